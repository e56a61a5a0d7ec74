import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { AckToken, untrackedToken } from '../../../src/core/ack.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import type { LateRecord } from '../../../src/core/batch.ts';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { count, sum } from '../../../src/operators/windows/aggregations.ts';
import { makeWindowSpec, type WindowOptions, type WindowedBatch } from '../../../src/operators/windows/window-spec.ts';

interface Event {
  k: string;
  t: number;
  v: number;
}

/** [key, windowEnd, revision, n, total] per emitted row. */
type Row = [string, number, number, number, number];

/** Drives aggregate directly: one call per batch with its watermark; returns that batch's rows, late records and acks. */
function harness(kind: 'tumbling' | 'hopping', options: WindowOptions) {
  const spec = kind === 'tumbling' ? makeWindowSpec('tumbling', '10s', '10s', options) : makeWindowSpec('hopping', '10s', '5s', options);
  const input = new Subject<WindowedBatch<Event>>();
  let rows: Row[] = [];
  let acks: AckToken[] = [];
  input.pipe(aggregate({ n: count(), total: sum((e: Event) => e.v) })).subscribe((batch) => {
    rows = batch.records.map((r) => [r.value.key, r.value.windowEnd, r.value.revision, r.value.n, r.value.total]);
    acks = batch.acks;
  });
  return (watermark: number, events: Event[], tokens: AckToken[] = [untrackedToken()]) => {
    const late: LateRecord[] = [];
    input.next({ records: events.map((e) => ({ value: e, key: e.k, eventTime: e.t, topic: 't', partition: 0, offset: '0' })), watermark, acks: tokens, side: { late, deadLetters: [] }, window: spec });
    for (const token of tokens) token.release(); // the source's own reference, as the engine does
    return { rows, late: late.map((l) => [l.key, l.eventTime, l.watermark]), acks };
  };
}

test("emit 'final' with allowed lateness: a record within it re-emits the window as revision 1; beyond it the record is late", () => {
  const send = harness('tumbling', { allowedLateness: '5s' });
  assert.deepEqual(send(1_000, [{ k: 'a', t: 1_000, v: 1 }, { k: 'a', t: 2_000, v: 2 }]).rows, []);
  assert.deepEqual(send(10_000, []).rows, [['a', 10_000, 0, 2, 3]], 'closes at end + grace (grace 0)');
  // The watermark before this batch is 10 s < end + lateness = 15 s: both records update [0, 10 s).
  assert.deepEqual(send(12_000, [{ k: 'a', t: 3_000, v: 4 }, { k: 'b', t: 4_000, v: 8 }]).rows, [
    ['a', 10_000, 1, 3, 7], // the full updated aggregate, next revision
    ['b', 10_000, 0, 1, 8], // a key new to the window: its first row
  ]);
  assert.deepEqual(send(13_000, []).rows, [], 'nothing changed: nothing re-emitted');
  assert.deepEqual(send(14_000, [{ k: 'a', t: 9_999, v: 16 }]).rows, [['a', 10_000, 2, 4, 23]]);
  // Judged against the watermark before the batch (14 s < 15 s), so still accepted.
  assert.deepEqual(send(16_000, [{ k: 'a', t: 5_000, v: 32 }]).rows, [['a', 10_000, 3, 5, 55]]);
  const late = send(17_000, [{ k: 'a', t: 6_000, v: 64 }]); // watermark before 16 s >= 15 s: final
  assert.deepEqual(late.rows, []);
  assert.deepEqual(late.late, [['a', 6_000, 16_000]]);
});

test("emit 'current': every batch that changes a key's window emits its aggregate; the close repeats nothing", () => {
  const send = harness('tumbling', { grace: '2s', emit: 'current' });
  assert.deepEqual(send(1_000, [{ k: 'a', t: 1_000, v: 1 }]).rows, [['a', 10_000, 0, 1, 1]]);
  assert.deepEqual(send(2_000, [{ k: 'b', t: 1_600, v: 2 }, { k: 'a', t: 1_500, v: 4 }]).rows, [
    ['a', 10_000, 1, 2, 5], // window order: keys by first arrival, not by this batch's order
    ['b', 10_000, 0, 1, 2],
  ]);
  assert.deepEqual(send(5_000, []).rows, []);
  assert.deepEqual(send(11_000, [{ k: 'a', t: 9_000, v: 8 }, { k: 'a', t: 10_500, v: 16 }]).rows, [
    ['a', 10_000, 2, 3, 13],
    ['a', 20_000, 0, 1, 16],
  ]);
  assert.deepEqual(send(12_000, []).rows, [], 'closing at end + grace emits nothing new');
  const late = send(13_000, [{ k: 'a', t: 9_500, v: 32 }]);
  assert.deepEqual(late.rows, []);
  assert.deepEqual(late.late, [['a', 9_500, 12_000]]);
});

test('hopping with allowed lateness: a record updates only those of its windows still within lateness', () => {
  const send = harness('hopping', { allowedLateness: '3s' });
  assert.deepEqual(send(1_000, [{ k: 'a', t: 1_000, v: 1 }, { k: 'a', t: 7_000, v: 2 }]).rows, []);
  assert.deepEqual(send(10_000, []).rows, [
    ['a', 5_000, 0, 1, 1],
    ['a', 10_000, 0, 2, 3],
  ]);
  // Windows [-5 s, 5 s) (final since 8 s) and [0, 10 s) (open until 13 s) contain t = 2 s.
  assert.deepEqual(send(12_000, [{ k: 'a', t: 2_000, v: 4 }]).rows, [['a', 10_000, 1, 3, 7]]);
  // [0, 10 s) is final at 13 s; [5 s, 15 s) closes at 15 s with the record of 7 s.
  assert.deepEqual(send(15_000, []).rows, [['a', 15_000, 0, 1, 2]]);
});

test('a slice keeps its acks until its window is past end + grace + lateness; each revision carries them', () => {
  const send = harness('tumbling', { grace: '1s', allowedLateness: '4s' });
  const done: string[] = [];
  const token = (name: string) => new AckToken(name, 0n, 1, () => done.push(name));
  const first = token('first');
  const second = token('second');
  send(1_000, [{ k: 'a', t: 1_000, v: 1 }], [first]);
  const closed = send(11_000, []);
  assert.deepEqual(closed.rows, [['a', 10_000, 0, 1, 1]]);
  assert.ok(closed.acks.includes(first));
  assert.deepEqual(done, [], 'the window may still be revised until 15 s');
  const revised = send(13_000, [{ k: 'a', t: 2_000, v: 2 }], [second]);
  assert.deepEqual(revised.rows, [['a', 10_000, 1, 2, 3]]);
  assert.ok(revised.acks.includes(first) && revised.acks.includes(second), 'the revision covers every record in the window');
  assert.deepEqual(done, []);
  send(14_999, []);
  assert.deepEqual(done, []);
  send(15_000, []);
  assert.deepEqual(done, ['first', 'second'], 'released once, when the window is final');
});

test("emit 'current' emissions of an open window carry its slices' acks, which stay retained", () => {
  const send = harness('tumbling', { emit: 'current' });
  const done: string[] = [];
  const first = new AckToken('first', 0n, 1, () => done.push('first'));
  const out = send(1_000, [{ k: 'a', t: 1_000, v: 1 }], [first]);
  assert.deepEqual(out.rows, [['a', 10_000, 0, 1, 1]]);
  assert.ok(out.acks.includes(first));
  const again = send(2_000, [{ k: 'a', t: 2_000, v: 1 }]);
  assert.ok(again.acks.includes(first), 'a later revision still covers the first record');
  assert.deepEqual(done, []);
  send(10_000, []);
  assert.deepEqual(done, ['first']);
});

test('window options are validated', () => {
  assert.throws(() => makeWindowSpec('tumbling', '1m', '1m', { emit: 'sometimes' as never }), ConfigError);
  assert.throws(() => makeWindowSpec('hopping', '1m', '10s', { allowedLateness: '-1s' }), ConfigError);
  const spec = makeWindowSpec('tumbling', '1m', '1m', {});
  assert.deepEqual([spec.emit, spec.allowedLatenessMs], ['final', 0]);
});
