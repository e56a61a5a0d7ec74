import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eventTopology, lateSummary, randomEventLists, type Event } from '../../helpers/window-property.ts';
import { runOnArray } from '../../../src/topology/run-on-array.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { tumbling } from '../../../src/operators/windows/tumbling.ts';
import { hopping } from '../../../src/operators/windows/hopping.ts';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { avg, count, distinctCount, first, last, max, min, sum } from '../../../src/operators/windows/aggregations.ts';
import type { EmitMode } from '../../../src/operators/windows/window-spec.ts';

interface Setup {
  hop: number;
  size: number;
  grace: number;
  allowedLateness: number;
  emit: EmitMode;
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
  distinct: number;
}

function topologyFor(setup: Setup) {
  const { size, hop, grace, allowedLateness, emit } = setup;
  const options = { grace, allowedLateness, emit };
  return eventTopology('revisions-property', setup.outOfOrderness, (events) => ({
    windows: events.pipe(
      keyBy((e) => e.k),
      size === hop ? tumbling(size, options) : hopping(size, hop, options),
      aggregate({
        n: count(),
        total: sum((e: Event) => e.v),
        lo: min((e: Event) => e.v),
        hi: max((e: Event) => e.v),
        mean: avg((e: Event) => e.v),
        earliest: first((e: Event) => e.v),
        latest: last((e: Event) => e.v),
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
 * Brute force, batch by batch (then one empty batch at watermark +Infinity, as runOnArray closes):
 * a record joins every window containing it with end + grace + lateness > the watermark before
 * its batch, and is late when there is none. After the batch, with the new watermark:
 * 'final' emits every key of a window whose end + grace it passes for the first time, and the
 * keys changed in this batch of windows it had passed before; 'current' emits the changed keys
 * of every window. Each row is the aggregate over all records the key has in the window, with
 * revision = how many rows the key and window had before. Rows by window end, then by the key's
 * earliest slice in the window and its first arrival there.
 */
function reference(events: readonly Event[], setup: Setup) {
  const { size, hop, grace, allowedLateness, emit, outOfOrderness, batchSize } = setup;
  const windows = new Map<number, Accepted[]>();
  const revisions = new Map<string, number>();
  const rows: Row[] = [];
  const late: Array<{ key: string; eventTime: number; watermark: number; value: Event }> = [];
  let watermark = -Infinity;
  let maxSeen = -Infinity;
  const batches: Event[][] = [];
  for (let from = 0; from < events.length; from += batchSize) batches.push(events.slice(from, from + batchSize));
  batches.push([]);
  let arrival = 0;
  batches.forEach((chunk, b) => {
    const changed = new Map<number, Set<string>>();
    for (const e of chunk) {
      let accepted = false;
      for (let start = Math.floor((e.t - size) / hop) * hop; start <= e.t; start += hop) {
        const end = start + size;
        if (!(start <= e.t && e.t < end) || end + grace + allowedLateness <= watermark) continue;
        if (!windows.has(end)) windows.set(end, []);
        windows.get(end)!.push({ e, arrival });
        if (!changed.has(end)) changed.set(end, new Set());
        changed.get(end)!.add(e.k);
        accepted = true;
      }
      if (!accepted) late.push({ key: e.k, eventTime: e.t, watermark, value: e });
      arrival++;
    }
    const before = watermark;
    if (b === batches.length - 1) watermark = Infinity;
    else if (chunk.length > 0) {
      maxSeen = Math.max(maxSeen, ...chunk.map((e) => e.t));
      watermark = Math.max(watermark, maxSeen - outOfOrderness);
    }
    for (const end of [...windows.keys()].sort((a, b2) => a - b2)) {
      const list = windows.get(end)!;
      let emitKeys: Set<string>;
      if (emit === 'current') emitKeys = changed.get(end) ?? new Set();
      else if (end + grace > watermark) continue;
      else if (end + grace > before) emitKeys = new Set(list.map((a) => a.e.k));
      else emitKeys = changed.get(end) ?? new Set();
      for (const key of orderedKeys(list, hop)) {
        if (!emitKeys.has(key)) continue;
        const id = `${key}|${end}`;
        const revision = (revisions.get(id) ?? -1) + 1;
        revisions.set(id, revision);
        rows.push(rowOf(key, end, size, revision, list.filter((a) => a.e.k === key)));
      }
    }
  });
  return { rows, late };
}

function orderedKeys(list: Accepted[], hop: number): string[] {
  const order = new Map<string, [number, number]>();
  for (const a of list) {
    const mine: [number, number] = [Math.floor(a.e.t / hop), a.arrival];
    const seen = order.get(a.e.k);
    if (seen === undefined || mine[0] < seen[0] || (mine[0] === seen[0] && mine[1] < seen[1])) order.set(a.e.k, mine);
  }
  return [...order.keys()].sort((x, y) => order.get(x)![0] - order.get(y)![0] || order.get(x)![1] - order.get(y)![1]);
}

function rowOf(key: string, end: number, size: number, revision: number, list: Accepted[]): Row {
  const vs = list.map((a) => a.e.v);
  const total = vs.reduce((a, b) => a + b, 0);
  const minT = Math.min(...list.map((a) => a.e.t));
  const maxT = Math.max(...list.map((a) => a.e.t));
  return {
    key,
    windowStart: end - size,
    windowEnd: end,
    revision,
    n: vs.length,
    total,
    lo: Math.min(...vs),
    hi: Math.max(...vs),
    mean: total / vs.length,
    earliest: list.find((a) => a.e.t === minT)!.e.v,
    latest: [...list].reverse().find((a) => a.e.t === maxT)!.e.v,
    distinct: new Set(vs).size,
  };
}

const setups = fc
  .record({
    hop: fc.constantFrom(1_000, 2_000, 5_000),
    slicesPerWindow: fc.integer({ min: 1, max: 4 }),
    grace: fc.constantFrom(0, 1_000, 3_000),
    allowedLateness: fc.constantFrom(0, 500, 2_000, 7_000),
    emit: fc.constantFrom<EmitMode>('final', 'current'),
    outOfOrderness: fc.constantFrom(0, 500, 2_000),
    batchSize: fc.integer({ min: 1, max: 40 }),
  })
  .map(({ hop, slicesPerWindow, ...rest }): Setup => ({ hop, size: hop * slicesPerWindow, ...rest }));

/** Time moves forward with jitter; some records a little behind, a few far behind (beyond any lateness). */
const eventLists = randomEventLists({ keys: ['a', 'b', 'c', 'd'], step: fc.integer({ min: 0, max: 3 }), behind: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 8 }) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 60 }) }), maxLength: 200 });

test('emit modes and allowed lateness equal a brute-force reference of revisions (random disorder, grace, lateness, batch sizes)', async () => {
  let revised = 0;
  await fc.assert(
    fc.asyncProperty(setups, eventLists, async (setup, events) => {
      const { outputs, late } = await runOnArray(topologyFor(setup), events, { batchSize: setup.batchSize });
      const expected = reference(events, setup);
      assert.deepEqual(outputs.windows as Row[], expected.rows);
      assert.deepEqual(
        lateSummary(late),
        expected.late,
      );
      if (expected.rows.some((r) => r.revision > 0)) revised++;
    }),
    { numRuns: 200 },
  );
  assert.ok(revised > 50, `the generated data must produce revisions (${revised} runs did)`);
});
