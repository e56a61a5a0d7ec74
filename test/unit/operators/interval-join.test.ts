import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject, share } from 'rxjs';
import { defineTopology } from '../../../src/topology/define-topology.ts';
import { runOnArray } from '../../../src/topology/run-on-array.ts';
import { generatorSource } from '../../../src/sources/generator/generator-source.ts';
import { filter } from '../../../src/operators/filter.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { intervalJoin } from '../../../src/operators/interval-join.ts';
import { AckToken, releaseAll, retainAll } from '../../../src/core/ack.ts';
import type { Batch } from '../../../src/core/batch.ts';
import { ConfigError } from '../../../src/core/errors.ts';

interface Event {
  side: 'L' | 'R';
  k: string;
  t: number;
  name: string;
}

function topology(type: 'inner' | 'left', outOfOrderness = 0, grace = 0, combine = (l: Event, r: Event | undefined) => `${l.name}+${r?.name ?? '-'}`) {
  return defineTopology({
    name: 'interval-join-test',
    source: generatorSource<Event>({ events: () => ({ next: () => ({ side: 'L', k: 'a', t: 0, name: '' }) }), eventTime: (e) => e.t, eventsPerSecond: 1, outOfOrderness }),
    pipeline: (events) => {
      const left = events.pipe(filter((e) => e.side === 'L'), keyBy((e) => e.k));
      const right = events.pipe(filter((e) => e.side === 'R'), keyBy((e) => e.k));
      return { joined: intervalJoin(left, right, { within: '10s', grace, type, combine }) };
    },
    sinks: {},
  });
}

const L = (k: string, t: number, name: string): Event => ({ side: 'L', k, t, name });
const R = (k: string, t: number, name: string): Event => ({ side: 'R', k, t, name });

test('inner join: pairs within 10 s inclusive, on equal keys only, as soon as the second arrives', async () => {
  const events = [
    L('a', 0, 'l1'),
    R('a', 10_000, 'r1'), // exactly 10 s after l1: matches (inclusive)
    R('a', 10_001, 'r2'), // 10.001 s after l1: no match
    R('b', 5_000, 'r3'), // other key
    L('a', 12_000, 'l2'), // within 10 s of r1 and r2: two rows
    L('a', 12_000, 'l3'),
  ];
  const { outputs, late } = await runOnArray(topology('inner', 60_000), events, { batchSize: 1 });
  assert.deepEqual(outputs.joined, ['l1+r1', 'l2+r1', 'l2+r2', 'l3+r1', 'l3+r2']);
  assert.deepEqual(late, []);
});

test('left join: a left record that never matched comes out on close, with right undefined', async () => {
  const events = [
    L('a', 0, 'l1'),
    L('b', 1_000, 'l2'),
    R('b', 3_000, 'r1'),
    L('c', 20_000, 'l3'), // watermark 20 s >= 0 + 10 s: l1 closes unmatched
    L('c', 40_000, 'l4'), // watermark 40 s: l2 (matched) and l3 close; l3 unmatched
  ];
  const { outputs } = await runOnArray(topology('left'), events, { batchSize: 1 });
  assert.deepEqual(outputs.joined, ['l2+r1', 'l1+-', 'l3+-', 'l4+-']);
});

test('late records of either side go to side.late with the step name; accepted ones still join', async () => {
  const events = [
    L('a', 30_000, 'l1'), // watermark 30 s - 5 s = 25 s
    R('a', 23_000, 'r1'), // 23 s + 2 s grace <= 25 s: late (inclusive), although l1 is only 7 s away
    R('a', 20_000, 'r2'), // late
    R('a', 23_001, 'r3'), // 23.001 + 2 > 25: accepted, joins l1
    L('a', 22_000, 'l2'), // late
  ];
  const { outputs, late } = await runOnArray(topology('left', 5_000, 2_000), events, { batchSize: 1 });
  assert.deepEqual(outputs.joined, ['l1+r3']);
  assert.deepEqual(
    late.map((l) => [l.step, l.key, l.eventTime, l.watermark, (l.value as Event).name]),
    [
      ['interval-join', 'a', 23_000, 25_000, 'r1'],
      ['interval-join', 'a', 20_000, 25_000, 'r2'],
      ['interval-join', 'a', 22_000, 25_000, 'l2'],
    ],
  );
});

test('a combine function that throws dead-letters its pair and the others continue', async () => {
  const combine = (l: Event, r: Event | undefined) => {
    if (r?.name === 'bad') throw new Error('boom');
    return `${l.name}+${r?.name ?? '-'}`;
  };
  const events = [L('a', 0, 'l1'), R('a', 1_000, 'bad'), R('a', 2_000, 'r2')];
  const { outputs, deadLetters } = await runOnArray(topology('inner', 60_000, 0, combine), events, { batchSize: 1 });
  assert.deepEqual(outputs.joined, ['l1+r2']);
  assert.deepEqual(deadLetters.map((d) => [d.step, d.offset, d.error]), [['interval-join', '0', 'boom']]);
});

test('bad options fail with a ConfigError naming the field', () => {
  const s = new Subject<Batch<Event>>();
  const make = (options: Record<string, unknown>) => () => intervalJoin(s, s, { within: '1m', combine: () => 0, ...options } as never);
  assert.throws(make({ within: -1 }), (e: unknown) => e instanceof ConfigError && e.field === 'intervalJoin.within');
  assert.throws(make({ grace: 'soon' }), (e: unknown) => e instanceof ConfigError && e.field === 'intervalJoin.grace');
  assert.throws(make({ type: 'outer' }), (e: unknown) => e instanceof ConfigError && e.field === 'intervalJoin.type');
  assert.throws(make({ combine: undefined }), (e: unknown) => e instanceof ConfigError && e.field === 'intervalJoin.combine');
});

test('acks: a buffered left record holds its batch until its unmatched row is out and the sink that took it lets go', () => {
  const source = new Subject<Batch<Event>>();
  const events = source.pipe(share());
  const left = events.pipe(filter((e) => e.side === 'L'), keyBy((e) => e.k));
  const right = events.pipe(filter((e) => e.side === 'R'), keyBy((e) => e.k));
  const sinkHeld: AckToken[][] = [];
  const rows: string[] = [];
  intervalJoin(left, right, { within: '10s', type: 'left', combine: (l, r) => `${l.name}+${r?.name ?? '-'}` }).subscribe((batch) => {
    rows.push(...batch.records.map((r) => r.value));
    if (batch.records.length > 0) {
      retainAll(batch.acks); // a sink buffering the rows
      sinkHeld.push(batch.acks);
    }
  });
  const done = [0, 0, 0];
  const send = (i: number, records: Event[], watermark: number) => {
    const token = new AckToken('t:0', BigInt(i), records.length, () => done[i]!++);
    source.next({ records: records.map((e) => ({ value: e, key: '', eventTime: e.t, topic: 't', partition: 0, offset: String(i) })), watermark, acks: [token], side: { late: [], deadLetters: [] } });
    token.release(); // the source's own reference
  };
  send(0, [L('a', 0, 'l1')], 0);
  assert.deepEqual(done, [0, 0, 0], 'l1 is buffered: batch 0 is held');
  send(1, [R('b', 5_000, 'r1')], 5_000);
  assert.deepEqual(done, [0, 0, 0], 'r1 is buffered too');
  send(2, [L('c', 30_000, 'l2')], 30_000); // closes l1 (unmatched) and evicts r1
  assert.deepEqual(rows, ['l1+-']);
  assert.deepEqual(done, [0, 1, 0], 'batch 1 is free; batch 0 waits for the sink, batch 2 holds l2');
  assert.ok(sinkHeld[0]!.some((t) => t.lastOffset === 0n), 'the row carries the token of the batch it came from');
  releaseAll(sinkHeld[0]!); // the sink wrote the row
  assert.deepEqual(done, [1, 1, 0]);
  source.next({ records: [], watermark: Infinity, acks: [], side: { late: [], deadLetters: [] } });
  releaseAll(sinkHeld[1]!);
  assert.deepEqual(rows, ['l1+-', 'l2+-']);
  assert.deepEqual(done, [1, 1, 1], 'every token completes exactly once');
});
