import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eventTopology, lateSummary, randomEventLists, type Event } from '../../helpers/window-property.ts';
import { runOnArray } from '../../../src/topology/run-on-array.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { sessionWindows } from '../../../src/operators/windows/session.ts';
import { count, first, last, max, min, sum } from '../../../src/operators/windows/aggregations.ts';

interface Setup {
  gap: number;
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
  return eventTopology('session-property', setup.outOfOrderness, (events) => ({
    sessions: events.pipe(
      keyBy((e) => e.k),
      sessionWindows(
        { gap: setup.gap, grace: setup.grace },
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

interface Accepted {
  e: Event;
  arrival: number;
}

const byEndThenKey = (a: Row, b: Row) => a.windowEnd - b.windowEnd || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * Brute force, batch by batch, straight from the definition: an event joins (and so merges)
 * every open session of its key holding an event less than `gap` away; when there is none and
 * t + gap + grace <= the watermark before its batch, it is late. After each batch, sessions
 * with last + gap + grace <= watermark are emitted by window end, then key.
 */
function reference(events: readonly Event[], setup: Setup) {
  const { gap, grace, outOfOrderness, batchSize } = setup;
  const open = new Map<string, Accepted[][]>();
  const rows: Row[] = [];
  const late: Array<{ key: string; eventTime: number; watermark: number; value: Event }> = [];
  const closeThrough = (limit: number) => {
    const closed: Row[] = [];
    for (const [key, sessions] of open) {
      const keep: Accepted[][] = [];
      for (const session of sessions) {
        const times = session.map((a) => a.e.t);
        const lastT = Math.max(...times);
        if (lastT + gap > limit) {
          keep.push(session);
          continue;
        }
        const firstT = Math.min(...times);
        const vs = session.map((a) => a.e.v);
        const byArrival = [...session].sort((x, y) => x.arrival - y.arrival);
        closed.push({
          key,
          windowStart: firstT,
          windowEnd: lastT + gap,
          n: vs.length,
          total: vs.reduce((x, y) => x + y, 0),
          lo: Math.min(...vs),
          hi: Math.max(...vs),
          earliest: byArrival.find((a) => a.e.t === firstT)!.e.v,
          latest: [...byArrival].reverse().find((a) => a.e.t === lastT)!.e.v,
        });
      }
      open.set(key, keep);
    }
    rows.push(...closed.sort(byEndThenKey));
  };
  let watermark = -Infinity;
  let maxSeen = -Infinity;
  for (let from = 0; from < events.length; from += batchSize) {
    const chunk = events.slice(from, from + batchSize);
    chunk.forEach((e, i) => {
      const sessions = open.get(e.k) ?? [];
      const touched = sessions.filter((s) => s.some((a) => Math.abs(a.e.t - e.t) < gap));
      if (touched.length === 0 && e.t + gap + grace <= watermark) {
        late.push({ key: e.k, eventTime: e.t, watermark, value: e });
        return;
      }
      open.set(e.k, [...sessions.filter((s) => !touched.includes(s)), [...touched.flat(), { e, arrival: from + i }]]);
    });
    maxSeen = Math.max(maxSeen, ...chunk.map((e) => e.t));
    watermark = Math.max(watermark, maxSeen - outOfOrderness);
    closeThrough(watermark - grace);
  }
  closeThrough(Infinity);
  return { rows, late };
}

const setups = fc.record({
  gap: fc.constantFrom(250, 1_000, 2_500),
  grace: fc.constantFrom(0, 500, 2_000),
  outOfOrderness: fc.constantFrom(0, 500, 2_000),
  batchSize: fc.integer({ min: 1, max: 50 }),
});

/**
 * Time moves forward in 250 ms steps with pauses (so sessions end), some records a little
 * behind (they extend or bridge sessions), a few far behind (late). Multiples of 250 ms make
 * distances equal to the gap, watermarks on session ends and equal event times common.
 */
const eventLists = randomEventLists({ keys: ['a', 'b', 'c', 'd'], step: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 4, max: 24 }) }), behind: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 8 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 160 }) }) });

test('session windows with count, sum, min, max, first and last equal a brute-force reference (disorder, bridges, lateness, batch sizes 1..50)', async () => {
  await fc.assert(
    fc.asyncProperty(setups, eventLists, async (setup, events) => {
      const { outputs, late } = await runOnArray(topologyFor(setup), events, { batchSize: setup.batchSize });
      const expected = reference(events, setup);
      assert.deepEqual(outputs.sessions as Row[], expected.rows);
      assert.deepEqual(
        lateSummary(late),
        expected.late,
      );
      assert.ok(late.every((l) => l.step === `session-${setup.gap}ms`));
    }),
    { numRuns: 300 },
  );
});

test('the generated data exercise merges and lateness', () => {
  // Guards the property above against a generator that stopped producing interesting cases.
  const setup: Setup = { gap: 1_000, grace: 0, outOfOrderness: 500, batchSize: 7 };
  const samples = fc.sample(eventLists, { numRuns: 50, seed: 42 });
  let lateTotal = 0;
  let multiEvent = 0;
  for (const events of samples) {
    const { rows, late } = reference(events, setup);
    lateTotal += late.length;
    multiEvent += rows.filter((r) => r.n > 2).length;
  }
  assert.ok(lateTotal > 20, `late records: ${lateTotal}`);
  assert.ok(multiEvent > 20, `sessions with 3+ events: ${multiEvent}`);
});
