import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eventTopology, lateSummary, randomEventLists, type Event } from '../../helpers/window-property.ts';
import { runOnArray } from '../../../src/topology/run-on-array.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { tumbling } from '../../../src/operators/windows/tumbling.ts';
import { hopping } from '../../../src/operators/windows/hopping.ts';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { avg, count, distinctCount, first, last, max, min, stddev, sum } from '../../../src/operators/windows/aggregations.ts';

interface Setup {
  hop: number;
  size: number;
  grace: number;
  outOfOrderness: number;
  batchSize: number;
}

interface Row {
  key: string;
  windowStart: number;
  windowEnd: number;
  revision: number;
  n: number;
  total: number;
  lo: number;
  hi: number;
  mean: number;
  earliest: number;
  latest: number;
  spread: number;
  distinct: number;
}

function topologyFor(setup: Setup) {
  const { size, hop, grace } = setup;
  return eventTopology('aggregations-property', setup.outOfOrderness, (events) => ({
    windows: events.pipe(
      keyBy((e) => e.k),
      size === hop ? tumbling(size, { grace }) : hopping(size, hop, { grace }),
      aggregate({
        n: count(),
        total: sum((e: Event) => e.v),
        lo: min((e: Event) => e.v),
        hi: max((e: Event) => e.v),
        mean: avg((e: Event) => e.v),
        earliest: first((e: Event) => e.v),
        latest: last((e: Event) => e.v),
        spread: stddev((e: Event) => e.v),
        distinct: distinctCount((e: Event) => e.v),
      }),
    ),
  }));
}

interface Accepted {
  e: Event;
  arrival: number;
}

/**
 * Brute force, batch by batch: a record joins every window containing it that is still open
 * against the watermark before its batch; it is late when none is. Rows come out by window end,
 * then by the key's earliest slice in the window and its first arrival there.
 */
function reference(events: readonly Event[], setup: Setup) {
  const { size, hop, grace, outOfOrderness, batchSize } = setup;
  const windows = new Map<number, Accepted[]>();
  const late: Array<{ key: string; eventTime: number; watermark: number; value: Event }> = [];
  let watermark = -Infinity;
  let maxSeen = -Infinity;
  for (let from = 0; from < events.length; from += batchSize) {
    const chunk = events.slice(from, from + batchSize);
    chunk.forEach((e, i) => {
      let accepted = false;
      for (let start = Math.floor((e.t - size) / hop) * hop; start <= e.t; start += hop) {
        const end = start + size;
        if (!(start <= e.t && e.t < end) || end + grace <= watermark) continue;
        if (!windows.has(end)) windows.set(end, []);
        windows.get(end)!.push({ e, arrival: from + i });
        accepted = true;
      }
      if (!accepted) late.push({ key: e.k, eventTime: e.t, watermark, value: e });
    });
    maxSeen = Math.max(maxSeen, ...chunk.map((e) => e.t));
    watermark = Math.max(watermark, maxSeen - outOfOrderness);
  }
  const rows: Row[] = [];
  for (const end of [...windows.keys()].sort((a, b) => a - b)) {
    const byKey = new Map<string, Accepted[]>();
    for (const a of windows.get(end)!) byKey.set(a.e.k, [...(byKey.get(a.e.k) ?? []), a]);
    const orderOf = (list: Accepted[]) => list.map((a) => [Math.floor(a.e.t / hop), a.arrival] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1])[0]!;
    const keys = [...byKey.keys()].sort((x, y) => {
      const [sx, ax] = orderOf(byKey.get(x)!);
      const [sy, ay] = orderOf(byKey.get(y)!);
      return sx - sy || ax - ay;
    });
    for (const key of keys) {
      const list = byKey.get(key)!; // in arrival order
      const vs = list.map((a) => a.e.v);
      const total = vs.reduce((a, b) => a + b, 0);
      const mean = total / vs.length;
      const minT = Math.min(...list.map((a) => a.e.t));
      const maxT = Math.max(...list.map((a) => a.e.t));
      rows.push({
        key,
        windowStart: end - size,
        windowEnd: end,
        revision: 0,
        n: vs.length,
        total,
        lo: Math.min(...vs),
        hi: Math.max(...vs),
        mean,
        earliest: list.find((a) => a.e.t === minT)!.e.v,
        latest: [...list].reverse().find((a) => a.e.t === maxT)!.e.v,
        spread: Math.sqrt(vs.reduce((a, x) => a + (x - mean) * (x - mean), 0) / vs.length),
        distinct: new Set(vs).size,
      });
    }
  }
  return { rows, late };
}

const setups = fc
  .record({
    hop: fc.constantFrom(1_000, 2_000, 5_000),
    slicesPerWindow: fc.integer({ min: 1, max: 5 }),
    grace: fc.constantFrom(0, 1_000, 3_000),
    outOfOrderness: fc.constantFrom(0, 500, 2_000),
    batchSize: fc.integer({ min: 1, max: 40 }),
  })
  .map(({ hop, slicesPerWindow, ...rest }): Setup => ({ hop, size: hop * slicesPerWindow, ...rest }));

/**
 * Time moves forward with jitter; some records are a little behind, a few far behind (late).
 * Times are multiples of 250 ms, so watermarks often land exactly on window boundaries and
 * records often share an event time (the tie rules of first and last).
 */
const eventLists = randomEventLists({ keys: ['a', 'b', 'c', 'd', 'e'], step: fc.integer({ min: 0, max: 3 }), behind: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 6 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 160 }) }) });

/** Stddev within 1e-9 relative; every other field and the row order exactly. */
function assertRowsEqual(actual: Row[], expected: Row[]): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const { spread: a, ...restActual } = actual[i]!;
    const { spread: b, ...restExpected } = expected[i]!;
    assert.ok(Math.abs(a - b) <= 1e-9 * Math.abs(b) + 1e-12, `row ${i}: stddev ${a} vs ${b}`);
    assert.deepEqual(restActual, restExpected);
  }
}

test('tumbling and hopping windows with every aggregate equal a brute-force reference (random disorder, lateness, batch sizes)', async () => {
  await fc.assert(
    fc.asyncProperty(setups, eventLists, async (setup, events) => {
      const { outputs, late } = await runOnArray(topologyFor(setup), events, { batchSize: setup.batchSize });
      const expected = reference(events, setup);
      assertRowsEqual(outputs.windows as Row[], expected.rows);
      const step = setup.size === setup.hop ? `tumbling-${setup.size}ms` : `hopping-${setup.size}ms-every-${setup.hop}ms`;
      assert.deepEqual(
        lateSummary(late),
        expected.late,
      );
      assert.ok(late.every((l) => l.step === step));
    }),
    { numRuns: 200 },
  );
});
