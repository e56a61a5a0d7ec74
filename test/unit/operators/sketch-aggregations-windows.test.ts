import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eventTopology, randomEventLists, type Event } from '../../helpers/window-property.ts';
import { runOnArray } from '../../../src/topology/run-on-array.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { tumbling } from '../../../src/operators/windows/tumbling.ts';
import { hopping } from '../../../src/operators/windows/hopping.ts';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { approxDistinct, quantiles, topK } from '../../../src/operators/windows/sketch-aggregations.ts';

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
  qs: Record<string, number>;
  distinct: number;
  top: Array<{ item: string; count: number }>;
  topExact: Array<{ item: string; count: number }>;
}

const QS = [0, 0.5, 0.9, 0.99, 1];
const TOP_CAPACITY = 4;

function topologyFor(setup: Setup) {
  const { size, hop, grace } = setup;
  return eventTopology('sketch-aggregations-windows', setup.outOfOrderness, (events) => ({
    windows: events.pipe(
      keyBy((e) => e.k),
      size === hop ? tumbling(size, { grace }) : hopping(size, hop, { grace }),
      aggregate({
        qs: quantiles((e: Event) => e.v, QS, { relativeAccuracy: 0.02 }),
        distinct: approxDistinct((e: Event) => e.v),
        top: topK((e: Event) => e.v, 2, { capacity: TOP_CAPACITY }),
        topExact: topK((e: Event) => e.v, 3, { capacity: 41 }),
      }),
    ),
  }));
}

/**
 * Brute force as in aggregations-property.test.ts: a record joins every window containing it that
 * is still open against the watermark before its batch. Rows come out by window end, then by the
 * key's earliest slice in the window and its first arrival there; each row gets its values.
 */
function reference(events: readonly Event[], setup: Setup) {
  const { size, hop, grace, outOfOrderness, batchSize } = setup;
  const windows = new Map<number, Array<{ e: Event; arrival: number }>>();
  let watermark = -Infinity;
  let maxSeen = -Infinity;
  for (let from = 0; from < events.length; from += batchSize) {
    const chunk = events.slice(from, from + batchSize);
    chunk.forEach((e, i) => {
      for (let start = Math.floor((e.t - size) / hop) * hop; start <= e.t; start += hop) {
        const end = start + size;
        if (!(start <= e.t && e.t < end) || end + grace <= watermark) continue;
        if (!windows.has(end)) windows.set(end, []);
        windows.get(end)!.push({ e, arrival: from + i });
      }
    });
    maxSeen = Math.max(maxSeen, ...chunk.map((e) => e.t));
    watermark = Math.max(watermark, maxSeen - outOfOrderness);
  }
  const rows: Array<{ key: string; windowStart: number; windowEnd: number; values: number[] }> = [];
  for (const end of [...windows.keys()].sort((a, b) => a - b)) {
    const byKey = new Map<string, Array<{ e: Event; arrival: number }>>();
    for (const a of windows.get(end)!) byKey.set(a.e.k, [...(byKey.get(a.e.k) ?? []), a]);
    const orderOf = (list: Array<{ e: Event; arrival: number }>) => list.map((a) => [Math.floor(a.e.t / hop), a.arrival] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1])[0]!;
    const keys = [...byKey.keys()].sort((x, y) => {
      const [sx, ax] = orderOf(byKey.get(x)!);
      const [sy, ay] = orderOf(byKey.get(y)!);
      return sx - sy || ax - ay;
    });
    for (const key of keys) rows.push({ key, windowStart: end - size, windowEnd: end, values: byKey.get(key)!.map((a) => a.e.v) });
  }
  return rows;
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

/** Mostly in order with jitter and a few late records; values skewed towards small magnitudes, of both signs. */
const eventLists = randomEventLists({ keys: ['a', 'b', 'c'], step: fc.integer({ min: 0, max: 3 }), behind: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 6 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 160 }) }), value: fc.oneof(fc.integer({ min: -20, max: 20 }), fc.integer({ min: 1, max: 3 })) });

function exactTop(values: readonly number[], k: number) {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
  return [...counts].map(([item, count]) => ({ item, count })).sort((a, b) => b.count - a.count || (a.item < b.item ? -1 : a.item > b.item ? 1 : 0)).slice(0, k);
}

test('sketch aggregates in tumbling and hopping windows (slices merged) stay within their bounds of a brute-force reference', async () => {
  await fc.assert(
    fc.asyncProperty(setups, eventLists, async (setup, events) => {
      const { outputs } = await runOnArray(topologyFor(setup), events, { batchSize: setup.batchSize });
      const actual = outputs.windows as Row[];
      const expected = reference(events, setup);
      assert.equal(actual.length, expected.length);
      expected.forEach(({ key, windowStart, windowEnd, values }, i) => {
        const row = actual[i]!;
        assert.deepEqual({ key: row.key, windowStart: row.windowStart, windowEnd: row.windowEnd, revision: row.revision }, { key, windowStart, windowEnd, revision: 0 });
        const sorted = [...values].sort((a, b) => a - b);
        for (const q of QS) {
          const truth = sorted[Math.floor(q * (sorted.length - 1))]!;
          const reported = row.qs[`p${q * 100}`]!;
          assert.ok(Math.abs(reported - truth) <= 0.02 * Math.abs(truth) * (1 + 1e-12), `row ${i} q=${q}: ${reported} vs ${truth}`);
        }
        // ≤ 41 distinct values at 4096 registers: linear counting, off by at most a collision or two.
        assert.ok(Math.abs(row.distinct - new Set(values).size) <= 2, `row ${i}: distinct ${row.distinct} vs ${new Set(values).size}`);
        assert.deepEqual(row.topExact, exactTop(values, 3));
        const truth = new Map(exactTop(values, Infinity).map((e) => [e.item, e.count]));
        assert.ok(row.top.length <= 2);
        for (const { item, count } of row.top) {
          const t = truth.get(item) ?? 0;
          assert.ok(t <= count && count <= t + values.length / (TOP_CAPACITY + 1), `row ${i} top ${item}: ${count} vs ${t}`);
        }
      });
    }),
    { numRuns: 150 },
  );
});
