import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopology } from '../../../src/topology/define-topology.ts';
import { runOnArray } from '../../../src/topology/run-on-array.ts';
import { generatorSource } from '../../../src/sources/generator/generator-source.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { tumbling } from '../../../src/operators/windows/tumbling.ts';
import { hopping } from '../../../src/operators/windows/hopping.ts';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { avg, count, last, max, min, sum } from '../../../src/operators/windows/aggregations.ts';
import { SeededRandom } from '../../../src/sources/generator/random.ts';
import { Subject } from 'rxjs';
import { AckToken, untrackedToken } from '../../../src/core/ack.ts';
import { makeWindowSpec, type WindowedBatch } from '../../../src/operators/windows/window-spec.ts';

interface Event {
  k: string;
  t: number;
  v: number;
}

const OUT_OF_ORDERNESS = 2_000;

function topologyWith(window: 'tumbling' | 'hopping') {
  return defineTopology({
    name: 'window-test',
    source: generatorSource<Event>({ events: () => ({ next: () => ({ k: 'a', t: 0, v: 0 }) }), eventTime: (e) => e.t, eventsPerSecond: 1, outOfOrderness: OUT_OF_ORDERNESS }),
    pipeline: (events) => ({
      windows: events.pipe(
        keyBy((e) => e.k),
        window === 'tumbling' ? tumbling('10s', { grace: '3s' }) : hopping('10s', '5s', { grace: '3s' }),
        aggregate({ n: count(), total: sum((e: Event) => e.v), lo: min((e: Event) => e.v), hi: max((e: Event) => e.v), mean: avg((e: Event) => e.v), latest: last((e: Event) => e.v) }),
      ),
    }),
    sinks: {},
  });
}

/** Brute force: one event at a time, every window checked against the watermark before it. */
function reference(events: Event[], size: number, hop: number, grace: number) {
  const windows = new Map<string, { key: string; start: number; end: number; values: Array<{ v: number; t: number }> }>();
  const late: Event[] = [];
  let watermark = -Infinity;
  let maxSeen = -Infinity;
  for (const e of events) {
    let accepted = false;
    for (let start = Math.floor((e.t - size) / hop) * hop; start <= e.t; start += hop) {
      const end = start + size;
      if (!(start <= e.t && e.t < end)) continue;
      if (end + grace <= watermark) continue;
      const id = `${e.k}|${end}`;
      if (!windows.has(id)) windows.set(id, { key: e.k, start, end, values: [] });
      windows.get(id)!.values.push({ v: e.v, t: e.t });
      accepted = true;
    }
    if (!accepted) late.push(e);
    maxSeen = Math.max(maxSeen, e.t);
    watermark = Math.max(watermark, maxSeen - OUT_OF_ORDERNESS);
  }
  const results = [...windows.values()].map((w) => {
    const vs = w.values.map((x) => x.v);
    let latest = w.values[0]!;
    for (const x of w.values) if (x.t >= latest.t) latest = x;
    return { key: w.key, windowStart: w.start, windowEnd: w.end, revision: 0, n: vs.length, total: vs.reduce((a, b) => a + b, 0), lo: Math.min(...vs), hi: Math.max(...vs), mean: vs.reduce((a, b) => a + b, 0) / vs.length, latest: latest.v };
  });
  return { results, late };
}

function randomEvents(seed: number, n: number): Event[] {
  const random = new SeededRandom(seed);
  const events: Event[] = [];
  let now = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    now += random.int(400);
    // Mostly small disorder, sometimes far behind (late), integers so sums are exact.
    const behind = random.next() < 0.05 ? random.int(30_000) : random.int(1_500);
    events.push({ k: `k${random.int(7)}`, t: now - behind, v: random.int(1000) - 200 });
  }
  return events;
}

const sortResults = (rows: Array<{ key: string; windowEnd: number }>) => [...rows].sort((a, b) => a.windowEnd - b.windowEnd || a.key.localeCompare(b.key));

for (const kind of ['tumbling', 'hopping'] as const) {
  test(`${kind} windows equal a brute-force reference under disorder and lateness (batch size 1)`, async () => {
    for (const seed of [1, 2, 3]) {
      const events = randomEvents(seed, 3_000);
      const { outputs, late } = await runOnArray(topologyWith(kind), events, { batchSize: 1 });
      const expected = reference(events, 10_000, kind === 'tumbling' ? 10_000 : 5_000, 3_000);
      assert.ok(expected.late.length > 10, 'the data set must contain late events');
      assert.deepEqual(sortResults(outputs.windows as never), sortResults(expected.results));
      assert.deepEqual(
        late.map((l) => l.value),
        expected.late,
      );
      assert.ok(late.every((l) => l.step === (kind === 'tumbling' ? 'tumbling-10000ms' : 'hopping-10000ms-every-5000ms')));
    }
  });
}

test('windows close only when the watermark passes end + grace, in end order', async () => {
  const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 10_000);
  const events: Event[] = [
    { k: 'a', t: t0 + 1_000, v: 1 },
    { k: 'b', t: t0 + 2_000, v: 2 },
    { k: 'a', t: t0 + 14_000, v: 3 }, // watermark t0+12s: window [t0, t0+10s) needs t0+13s
    { k: 'a', t: t0 + 9_000, v: 4 }, // out of order but within grace: joins the first window
    { k: 'a', t: t0 + 16_000, v: 5 }, // watermark t0+14s: first window closes
    { k: 'a', t: t0 + 5_000, v: 6 }, // now late
  ];
  const { outputs, late } = await runOnArray(topologyWith('tumbling'), events, { batchSize: 1 });
  const windows = outputs.windows as Array<{ key: string; windowEnd: number; n: number; total: number }>;
  assert.deepEqual(
    windows.map((w) => [w.key, w.windowEnd - t0, w.n, w.total]),
    [
      ['a', 10_000, 2, 5],
      ['b', 10_000, 1, 2],
      ['a', 20_000, 2, 8],
    ],
  );
  assert.deepEqual(late.map((l) => l.value), [{ k: 'a', t: t0 + 5_000, v: 6 }]);
});

test('a key function that throws dead-letters only that record', async () => {
  const topology = defineTopology({
    name: 'dlq-test',
    source: generatorSource<Event>({ events: () => ({ next: () => ({ k: 'a', t: 0, v: 0 }) }), eventTime: (e) => e.t, eventsPerSecond: 1 }),
    pipeline: (events) => ({
      windows: events.pipe(
        keyBy((e) => {
          if (e.v < 0) throw new Error('negative value');
          return e.k;
        }),
        tumbling('10s'),
        aggregate({ n: count() }),
      ),
    }),
    sinks: {},
  });
  const { outputs, deadLetters } = await runOnArray(topology, [
    { k: 'a', t: 1_000, v: 1 },
    { k: 'a', t: 2_000, v: -1 },
    { k: 'a', t: 3_000, v: 1 },
  ]);
  assert.deepEqual((outputs.windows as Array<{ n: number }>).map((w) => w.n), [2]);
  assert.equal(deadLetters.length, 1);
  assert.equal(deadLetters[0]!.step, 'keyBy');
  assert.equal(deadLetters[0]!.offset, '1');
  assert.equal(deadLetters[0]!.error, 'negative value');
});

test('hopping output order: by window end, then keys by their earliest slice in the window, then first arrival there', async () => {
  const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 10_000);
  const events: Event[] = [
    { k: 'b', t: t0 + 6_000, v: 1 }, // slice [t0+5s, t0+10s)
    { k: 'a', t: t0 + 1_000, v: 2 }, // slice [t0, t0+5s): earlier slice, later arrival
    { k: 'c', t: t0 + 2_000, v: 3 },
    { k: 'a', t: t0 + 7_000, v: 4 },
  ];
  const { outputs } = await runOnArray(topologyWith('hopping'), events, { batchSize: 1 });
  const windows = outputs.windows as Array<{ key: string; windowEnd: number; n: number }>;
  assert.deepEqual(
    windows.map((w) => [w.windowEnd - t0, w.key, w.n]),
    [
      [5_000, 'a', 1],
      [5_000, 'c', 1],
      [10_000, 'a', 2],
      [10_000, 'c', 1],
      [10_000, 'b', 1],
      [15_000, 'b', 1],
      [15_000, 'a', 1],
    ],
  );
});

test('a hopping slice keeps its batch acks until the last window containing it is emitted', () => {
  const spec = makeWindowSpec('hopping', '10s', '5s', {});
  const input = new Subject<WindowedBatch<Event>>();
  const emitted: Array<{ ends: number[]; acks: AckToken[] }> = [];
  input.pipe(aggregate({ n: count() })).subscribe((batch) => emitted.push({ ends: batch.records.map((r) => r.value.windowEnd), acks: batch.acks }));
  const token = new AckToken('p0', 0n, 1, () => {});
  const send = (watermark: number, records: Event[], acks: AckToken[]) => {
    input.next({ records: records.map((e) => ({ value: e, key: e.k, eventTime: e.t, topic: 't', partition: 0, offset: '0' })), watermark, acks, side: { late: [], deadLetters: [] }, window: spec });
    for (const ack of acks) ack.release(); // the source's own reference, as the engine does
  };
  send(1_000, [{ k: 'a', t: 7_000, v: 1 }], [token]); // in windows ending at 10s and 15s
  assert.equal(token.done, false);
  send(10_000, [], [untrackedToken()]); // the window ending at 10s is emitted
  assert.deepEqual(emitted[1]!.ends, [10_000]);
  assert.ok(emitted[1]!.acks.includes(token));
  assert.equal(token.done, false, 'the slice is still part of the window ending at 15s');
  send(15_000, [], [untrackedToken()]);
  assert.deepEqual(emitted[2]!.ends, [15_000]);
  assert.ok(emitted[2]!.acks.includes(token));
  assert.equal(token.done, true);
});

test("a window row's event time is its end minus 1 ms (inside the window), for tumbling and hopping windows", () => {
  for (const spec of [makeWindowSpec('tumbling', '10s', '10s', {}), makeWindowSpec('hopping', '10s', '5s', {})]) {
    const input = new Subject<WindowedBatch<Event>>();
    const rows: Array<{ eventTime: number; windowEnd: number }> = [];
    input.pipe(aggregate({ n: count() })).subscribe((batch) => rows.push(...batch.records.map((r) => ({ eventTime: r.eventTime, windowEnd: r.value.windowEnd }))));
    const records = [{ k: 'a', t: 3_000, v: 1 }, { k: 'b', t: 12_500, v: 2 }].map((e) => ({ value: e, key: e.k, eventTime: e.t, topic: 't', partition: 0, offset: '0' }));
    input.next({ records, watermark: 0, acks: [untrackedToken()], side: { late: [], deadLetters: [] }, window: spec });
    input.next({ records: [], watermark: 60_000, acks: [untrackedToken()], side: { late: [], deadLetters: [] }, window: spec });
    // Worked out by hand: tumbling ends 10 s and 20 s; hopping ends 5, 10 s (a) and 15, 20 s (b).
    const ends = spec.hopMs === spec.sizeMs ? [10_000, 20_000] : [5_000, 10_000, 15_000, 20_000];
    assert.deepEqual(rows.map((r) => r.windowEnd), ends);
    assert.deepEqual(rows.map((r) => r.eventTime), ends.map((end) => end - 1));
  }
});
