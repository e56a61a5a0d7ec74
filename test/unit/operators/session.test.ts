import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import fc from 'fast-check';
import { defineTopology } from '../../../src/topology/define-topology.ts';
import { runOnArray } from '../../../src/topology/run-on-array.ts';
import { generatorSource } from '../../../src/sources/generator/generator-source.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { sessionWindows } from '../../../src/operators/windows/session.ts';
import { MinHeap } from '../../../src/operators/windows/session-heap.ts';
import { count, sum } from '../../../src/operators/windows/aggregations.ts';
import { AckToken } from '../../../src/core/ack.ts';
import type { Batch } from '../../../src/core/batch.ts';
import { ConfigError } from '../../../src/core/errors.ts';

interface Event {
  k: string;
  t: number;
  v: number;
}

function topology(outOfOrderness: number, grace = 0) {
  return defineTopology({
    name: 'session-test',
    source: generatorSource<Event>({ events: () => ({ next: () => ({ k: 'a', t: 0, v: 0 }) }), eventTime: (e) => e.t, eventsPerSecond: 1, outOfOrderness }),
    pipeline: (events) => ({
      sessions: events.pipe(keyBy((e) => e.k), sessionWindows({ gap: '10s', grace }, { n: count(), total: sum((e: Event) => e.v) })),
    }),
    sinks: {},
  });
}

type Row = { key: string; windowStart: number; windowEnd: number; n: number; total: number };
const rows = (values: unknown[]) => (values as Row[]).map((r) => [r.key, r.windowStart, r.windowEnd, r.n, r.total]);

test('a record within the gap of two sessions merges them into one', async () => {
  const events: Event[] = [
    { k: 'a', t: 0, v: 1 },
    { k: 'a', t: 15_000, v: 2 }, // 15 s after the first: a second session
    { k: 'b', t: 5_000, v: 7 },
    { k: 'a', t: 8_000, v: 4 }, // 8 s after 0 and 7 s before 15 s: bridges both
  ];
  const withoutBridge = await runOnArray(topology(60_000), events.slice(0, 3), { batchSize: 1 });
  assert.deepEqual(rows(withoutBridge.outputs.sessions!), [
    ['a', 0, 10_000, 1, 1],
    ['b', 5_000, 15_000, 1, 7],
    ['a', 15_000, 25_000, 1, 2],
  ]);
  const bridged = await runOnArray(topology(60_000), events, { batchSize: 1 });
  assert.deepEqual(rows(bridged.outputs.sessions!), [
    ['b', 5_000, 15_000, 1, 7],
    ['a', 0, 25_000, 3, 7],
  ]);
  assert.deepEqual(bridged.late, []);
});

test('a record is late only when it touches no open session and its own session has closed', async () => {
  const events: Event[] = [
    { k: 'a', t: 0, v: 1 },
    { k: 'a', t: 30_000, v: 2 }, // watermark 30 s: the session [0, 10 s) closes
    { k: 'a', t: 38_000, v: 3 },
    { k: 'a', t: 46_000, v: 4 }, // watermark 46 s, session [30 s, 56 s) open
    { k: 'a', t: 5_000, v: 5 }, // 5 + 10 <= 46 and no open session near: late
    { k: 'a', t: 31_000, v: 6 }, // 31 + 10 <= 46 too, but inside the open session: joins it
  ];
  const { outputs, late } = await runOnArray(topology(0), events, { batchSize: 1 });
  assert.deepEqual(rows(outputs.sessions!), [
    ['a', 0, 10_000, 1, 1],
    ['a', 30_000, 56_000, 4, 15],
  ]);
  assert.deepEqual(
    late.map((l) => [l.step, l.key, l.eventTime, l.watermark, l.value]),
    [['session-10000ms', 'a', 5_000, 46_000, { k: 'a', t: 5_000, v: 5 }]],
  );
});

test('sessions close at end + grace and come out by window end, then key', async () => {
  const events: Event[] = [
    { k: 'b', t: 0, v: 1 },
    { k: 'a', t: 0, v: 2 },
    { k: 'c', t: 2_000, v: 3 },
    { k: 'a', t: 12_000, v: 4 }, // watermark 12 s: with 3 s grace nothing closes yet
    { k: 'a', t: 13_000, v: 5 }, // watermark 13 s: a [0,10s) and b [0,10s) close; c needs 15 s
  ];
  const input = new Subject<Batch<Event>>();
  const emitted: Row[][] = [];
  input.pipe(sessionWindows({ gap: '10s', grace: '3s' }, { n: count(), total: sum((e: Event) => e.v) })).subscribe((b) => emitted.push(b.records.map((r) => r.value)));
  for (const e of events) input.next({ records: [{ value: e, key: e.k, eventTime: e.t, topic: 't', partition: 0, offset: '0' }], watermark: e.t, acks: [], side: { late: [], deadLetters: [] } });
  assert.deepEqual(
    emitted.map((batch) => batch.map((r) => [r.key, r.windowEnd])),
    [[], [], [], [], [['a', 10_000], ['b', 10_000]]],
  );
});

test('a batch ack is done only after the session holding its record has been emitted, merges keep the union', () => {
  const input = new Subject<Batch<Event>>();
  const emitted: Array<{ rows: Row[]; acks: AckToken[] }> = [];
  input.pipe(sessionWindows({ gap: '10s' }, { n: count() })).subscribe((b) => emitted.push({ rows: b.records.map((r) => r.value as unknown as Row), acks: b.acks }));
  const doneCalls = new Map<string, number>();
  const token = (name: string) => new AckToken(name, 0n, 1, () => doneCalls.set(name, (doneCalls.get(name) ?? 0) + 1));
  const send = (watermark: number, events: Event[], acks: AckToken[]) => {
    input.next({ records: events.map((e) => ({ value: e, key: e.k, eventTime: e.t, topic: 't', partition: 0, offset: '0' })), watermark, acks, side: { late: [], deadLetters: [] } });
    for (const ack of acks) ack.release(); // the source's own reference, as the engine does
  };
  const [a, b, c, d, e, late] = ['a', 'b', 'c', 'd', 'e', 'late'].map(token) as [AckToken, AckToken, AckToken, AckToken, AckToken, AckToken];
  send(0, [{ k: 'x', t: 0, v: 1 }], [a]);
  send(0, [{ k: 'x', t: 15_000, v: 1 }, { k: 'y', t: 1_000, v: 1 }], [b]);
  send(0, [{ k: 'x', t: 8_000, v: 1 }], [c]); // bridges x's two sessions: x holds a, b, c
  assert.ok([a, b, c].every((t) => !t.done));
  send(11_000, [], [d]); // y [1s, 11s) closes; x [0, 25s) stays open
  assert.deepEqual(emitted[3]!.rows.map((r) => [r.key, r.n]), [['y', 1]]);
  assert.deepEqual(new Set(emitted[3]!.acks), new Set([d, b]));
  assert.equal(d.done, true);
  assert.ok([a, b, c].every((t) => !t.done), 'b is still held by the session of x');
  send(11_000, [{ k: 'z', t: 500, v: 1 }], [late]); // late: nothing holds its batch
  assert.equal(late.done, true);
  send(11_000, [{ k: 'x', t: 500, v: 1 }], [e]); // inside x's open session: held
  assert.equal(e.done, false);
  send(25_000, [], []);
  assert.deepEqual(emitted[6]!.rows.map((r) => [r.key, r.windowStart, r.windowEnd, r.n]), [['x', 0, 25_000, 4]]);
  assert.deepEqual(new Set(emitted[6]!.acks), new Set([a, b, c, e]));
  assert.ok([a, b, c, d, e, late].every((t) => t.done));
  assert.deepEqual(Object.fromEntries(doneCalls), { late: 1, d: 1, a: 1, b: 1, c: 1, e: 1 });
});

test('a record in no open session and past end + grace is reported with the watermark before its batch', () => {
  const input = new Subject<Batch<Event>>();
  const late: Array<[number, number]> = [];
  input.pipe(sessionWindows({ gap: '10s', grace: '5s', name: 'visits' }, {})).subscribe((b) => late.push(...b.side.late.map((l): [number, number] => (assert.equal(l.step, 'visits'), [l.eventTime, l.watermark]))));
  const send = (watermark: number, t: number) => input.next({ records: [{ value: { k: 'x', t, v: 0 }, key: 'x', eventTime: t, topic: 't', partition: 0, offset: '0' }], watermark, acks: [], side: { late: [], deadLetters: [] } });
  send(100_000, 100_000);
  send(100_000, 85_001); // 85 001 + 10 s + 5 s > 100 s: not late (a new session)
  send(100_000, 85_000); // within 10 s of the session at 85 001: joins it
  send(100_000, 70_000); // 70 + 15 <= 100 and 15 s from 85 s: late
  assert.deepEqual(late, [[70_000, 100_000]]);
});

test('invalid options fail with a ConfigError naming the field', () => {
  assert.throws(() => sessionWindows({ gap: 0 }, { n: count() }), (e: unknown) => e instanceof ConfigError && e.field === 'sessionWindows.gap');
  assert.throws(() => sessionWindows({ gap: 'ten seconds' }, { n: count() }), (e: unknown) => e instanceof ConfigError && e.field === 'sessionWindows.gap');
  assert.throws(() => sessionWindows({ gap: '10s', grace: -1 }, { n: count() }), (e: unknown) => e instanceof ConfigError && e.field === 'sessionWindows.grace');
});

test('the min-heap of session ends pops in priority order', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 200 }), (values) => {
      const heap = new MinHeap<number>();
      values.forEach((v) => heap.push(v, v));
      const popped: number[] = [];
      while (heap.size > 0) popped.push(heap.pop()!);
      assert.deepEqual(popped, [...values].sort((a, b) => a - b));
      assert.equal(heap.pop(), undefined);
    }),
  );
});
