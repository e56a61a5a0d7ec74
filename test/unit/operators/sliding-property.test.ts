import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eventTopology, lateSummary, randomEventLists, type Event } from '../../helpers/window-property.ts';
import { runOnArray } from '../../../src/topology/run-on-array.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { sliding } from '../../../src/operators/windows/sliding.ts';
import { count, first, last, max, min, sum } from '../../../src/operators/windows/aggregations.ts';

interface Setup {
  size: number;
  grace: number;
  outOfOrderness: number;
  batchSize: number;
}

interface Row {
  key: string;
  windowStart: number;
  windowEnd: number;
  n: number;
  total: number;
  lo: number;
  hi: number;
  earliest: number;
  latest: number;
}

function topologyFor(setup: Setup) {
  return eventTopology('sliding-property', setup.outOfOrderness, (events) => ({
    results: events.pipe(
      keyBy((e) => e.k),
      sliding(
        { size: setup.size, grace: setup.grace },
        {
          n: count(),
          total: sum((e: Event) => e.v),
          lo: min((e: Event) => e.v),
          hi: max((e: Event) => e.v),
          earliest: first((e: Event) => e.v),
          latest: last((e: Event) => e.v),
        },
      ),
    ),
  }));
}

/**
 * Brute force, batch by batch, from the definition: a record is late iff t + grace < the
 * watermark before its batch; otherwise its result covers every accepted record of its key so
 * far (itself included) with time in (t - size, t]. Ties of first/last go by arrival.
 */
function reference(events: readonly Event[], setup: Setup) {
  const { size, grace, outOfOrderness, batchSize } = setup;
  const accepted: Event[] = []; // arrival order
  const rows: Row[] = [];
  const late: Array<{ key: string; eventTime: number; watermark: number; value: Event }> = [];
  let watermark = -Infinity;
  let maxSeen = -Infinity;
  for (let from = 0; from < events.length; from += batchSize) {
    const chunk = events.slice(from, from + batchSize);
    for (const e of chunk) {
      if (e.t + grace < watermark) {
        late.push({ key: e.k, eventTime: e.t, watermark, value: e });
        continue;
      }
      accepted.push(e);
      const inWindow = accepted.filter((x) => x.k === e.k && x.t > e.t - size && x.t <= e.t);
      const vs = inWindow.map((x) => x.v);
      const minT = Math.min(...inWindow.map((x) => x.t));
      const maxT = Math.max(...inWindow.map((x) => x.t));
      rows.push({
        key: e.k,
        windowStart: e.t - size + 1,
        windowEnd: e.t + 1,
        n: vs.length,
        total: vs.reduce((x, y) => x + y, 0),
        lo: Math.min(...vs),
        hi: Math.max(...vs),
        earliest: inWindow.find((x) => x.t === minT)!.v,
        latest: [...inWindow].reverse().find((x) => x.t === maxT)!.v,
      });
    }
    maxSeen = Math.max(maxSeen, ...chunk.map((e) => e.t));
    watermark = Math.max(watermark, maxSeen - outOfOrderness);
  }
  return { rows, late };
}

const setups = fc.record({
  size: fc.constantFrom(250, 1_000, 3_000),
  grace: fc.constantFrom(0, 500, 2_000),
  outOfOrderness: fc.constantFrom(0, 500, 2_000),
  batchSize: fc.integer({ min: 1, max: 50 }),
});

/** Forward in 250 ms steps; some records a little behind, a few far behind (late); equal times common. */
const eventLists = randomEventLists({ keys: ['a', 'b', 'c', 'd'], step: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 4, max: 40 }) }), behind: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 10 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 160 }) }) });

test('sliding per-record windows with count, sum, min, max, first and last equal a brute-force reference (disorder, lateness, batch sizes 1..50)', async () => {
  await fc.assert(
    fc.asyncProperty(setups, eventLists, async (setup, events) => {
      const { outputs, late } = await runOnArray(topologyFor(setup), events, { batchSize: setup.batchSize });
      const expected = reference(events, setup);
      assert.deepEqual(outputs.results as Row[], expected.rows);
      assert.deepEqual(
        lateSummary(late),
        expected.late,
      );
      assert.ok(late.every((l) => l.step === `sliding-${setup.size}ms`));
    }),
    { numRuns: 300 },
  );
});

test('the generated data exercise lateness and windows of several records', () => {
  const setup: Setup = { size: 1_000, grace: 0, outOfOrderness: 500, batchSize: 7 };
  let lateTotal = 0;
  let multi = 0;
  for (const events of fc.sample(eventLists, { numRuns: 50, seed: 42 })) {
    const { rows, late } = reference(events, setup);
    lateTotal += late.length;
    multi += rows.filter((r) => r.n > 2).length;
  }
  assert.ok(lateTotal > 20, `late records: ${lateTotal}`);
  assert.ok(multi > 20, `results over 3+ records: ${multi}`);
});
