import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { sliding } from '../../../src/operators/windows/sliding.ts';
import { count, sum } from '../../../src/operators/windows/aggregations.ts';
import { AckToken } from '../../../src/core/ack.ts';
import type { Batch, LateRecord } from '../../../src/core/batch.ts';
import { ConfigError } from '../../../src/core/errors.ts';

interface Event {
  k: string;
  t: number;
  v: number;
}

type Row = { key: string; windowStart: number; windowEnd: number; n: number; total: number };

function harness(options: { size: number; grace?: number; name?: string }) {
  const input = new Subject<Batch<Event>>();
  const emitted: Array<{ rows: Row[]; late: LateRecord[]; acks: AckToken[] }> = [];
  input.pipe(sliding(options, { n: count(), total: sum((e: Event) => e.v) })).subscribe((b) => emitted.push({ rows: b.records.map((r) => r.value), late: [...b.side.late], acks: b.acks }));
  const send = (watermark: number, events: Event[], acks: AckToken[] = []) => {
    input.next({ records: events.map((e) => ({ value: e, key: e.k, eventTime: e.t, topic: 't', partition: 0, offset: String(e.t) })), watermark, acks, side: { late: [], deadLetters: [] } });
    for (const ack of acks) ack.release(); // the source's own reference, as the engine does
    return emitted[emitted.length - 1]!;
  };
  return { send, emitted };
}

test('each record gets the aggregate of its key over (t - size, t] among records that arrived before it', () => {
  const { send } = harness({ size: 10_000 });
  const out = send(-Infinity, [
    { k: 'a', t: 1_000, v: 1 },
    { k: 'a', t: 5_000, v: 2 },
    { k: 'b', t: 6_000, v: 100 },
    { k: 'a', t: 11_000, v: 4 }, // (1 s, 11 s]: the record at 1 s is out, 5 s in
    { k: 'a', t: 3_000, v: 8 }, // out of order: (-7 s, 3 s] holds 1 s and itself, not 5 s or 11 s
    { k: 'a', t: 11_000, v: 16 }, // the same time again: both 11 s records, 5 s and 3 s
  ]);
  assert.deepEqual(
    out.rows.map((r) => [r.key, r.windowStart, r.windowEnd, r.n, r.total]),
    [
      ['a', -8_999, 1_001, 1, 1],
      ['a', -4_999, 5_001, 2, 3],
      ['b', -3_999, 6_001, 1, 100],
      ['a', 1_001, 11_001, 2, 6],
      ['a', -6_999, 3_001, 2, 9],
      ['a', 1_001, 11_001, 4, 30],
    ],
  );
});

test('a record more than grace behind the watermark is late, gets no result and joins no later one', () => {
  const { send } = harness({ size: 10_000, grace: 2_000, name: 'card-10s' });
  send(20_000, [{ k: 'a', t: 20_000, v: 1 }]);
  const out = send(20_000, [
    { k: 'a', t: 17_999, v: 2 }, // 17 999 + 2 000 < 20 000: late
    { k: 'a', t: 18_000, v: 4 }, // exactly grace behind: accepted
    { k: 'a', t: 21_000, v: 8 },
  ]);
  assert.deepEqual(out.rows.map((r) => [r.windowEnd, r.n, r.total]), [[18_001, 1, 4], [21_001, 3, 13]]);
  assert.deepEqual(
    out.late.map((l) => [l.step, l.key, l.eventTime, l.watermark, l.offset, l.value]),
    [['card-10s', 'a', 17_999, 20_000, '17999', { k: 'a', t: 17_999, v: 2 }]],
  );
});

test('a batch ack is held while its records can still enter a result, then released after emitting', () => {
  const { send } = harness({ size: 10_000 });
  const doneCalls = new Map<string, number>();
  const token = (name: string) => new AckToken(name, 0n, 1, () => doneCalls.set(name, (doneCalls.get(name) ?? 0) + 1));
  const [a, b, c, late] = ['a', 'b', 'c', 'late'].map(token) as [AckToken, AckToken, AckToken, AckToken];
  send(0, [{ k: 'x', t: 0, v: 1 }], [a]);
  send(5_000, [{ k: 'y', t: 5_000, v: 1 }], [b]);
  assert.equal(a.done, false, 'x@0 can still enter the result of a record at up to 9 999 ms');
  send(9_999, [], [c]);
  assert.equal(c.done, true, 'a batch without records holds nothing');
  assert.equal(a.done, false);
  const out = send(10_000, [{ k: 'z', t: 1_000, v: 1 }], [late]); // horizon 0: x@0 evicted (idle key)
  assert.equal(out.late.length, 1);
  assert.equal(late.done, true);
  assert.equal(a.done, true);
  assert.equal(b.done, false);
  send(15_000, [], []);
  assert.equal(b.done, true);
  assert.deepEqual(Object.fromEntries(doneCalls), { c: 1, late: 1, a: 1, b: 1 });
});

test('an evicted record is released when its key receives a newer record', () => {
  const { send } = harness({ size: 1_000 });
  const first = new AckToken('first', 0n, 1, () => {});
  const second = new AckToken('second', 0n, 1, () => {});
  send(0, [{ k: 'x', t: 0, v: 1 }], [first]);
  send(500, [{ k: 'x', t: 500, v: 1 }], [second]);
  // Trimmed against the watermark before the batch (500 - 1000): nothing is evicted yet.
  const out = send(2_000, [{ k: 'x', t: 2_000, v: 1 }]);
  assert.deepEqual(out.rows.map((r) => r.n), [1]);
  assert.equal(first.done, false);
  send(2_000, [{ k: 'x', t: 2_100, v: 1 }]); // horizon 2000 - 1000: x@0 and x@500 go
  assert.equal(first.done, true);
  assert.equal(second.done, true);
});

test('invalid options fail with a ConfigError naming the field', () => {
  assert.throws(() => sliding({ size: 0 }, { n: count() }), (e: unknown) => e instanceof ConfigError && e.field === 'sliding.size');
  assert.throws(() => sliding({ size: '1 minute' }, { n: count() }), (e: unknown) => e instanceof ConfigError && e.field === 'sliding.size');
  assert.throws(() => sliding({ size: '1m', grace: -5 }, { n: count() }), (e: unknown) => e instanceof ConfigError && e.field === 'sliding.grace');
});
