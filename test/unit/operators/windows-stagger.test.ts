import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopology } from '../../../src/topology/define-topology.ts';
import { runOnArray } from '../../../src/topology/run-on-array.ts';
import { generatorSource } from '../../../src/sources/generator/generator-source.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { tumbling } from '../../../src/operators/windows/tumbling.ts';
import { hopping } from '../../../src/operators/windows/hopping.ts';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { count, max, sum } from '../../../src/operators/windows/aggregations.ts';
import { keyHash } from '../../../src/core/key-hash.ts';
import { SeededRandom } from '../../../src/sources/generator/random.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { referenceKeyHash } from '../../helpers/reference-hash.ts';

interface Event {
  k: string;
  t: number;
  v: number;
}

const OUT_OF_ORDERNESS = 2_000;
const STAGGER = 1_000;

function topologyWith(window: 'tumbling' | 'hopping') {
  return defineTopology({
    name: 'stagger-test',
    source: generatorSource<Event>({ events: () => ({ next: () => ({ k: 'a', t: 0, v: 0 }) }), eventTime: (e) => e.t, eventsPerSecond: 1, outOfOrderness: OUT_OF_ORDERNESS }),
    pipeline: (events) => ({
      windows: events.pipe(
        keyBy((e) => e.k),
        window === 'tumbling' ? tumbling('10s', { grace: '3s', stagger: '1s' }) : hopping('10s', '5s', { grace: '3s', stagger: '1s' }),
        aggregate({ n: count(), total: sum((e: Event) => e.v), hi: max((e: Event) => e.v) }),
      ),
    }),
    sinks: {},
  });
}

const phaseOf = (key: string, hop: number) => (referenceKeyHash(key) % (hop / STAGGER)) * STAGGER;

/** Brute force: one event at a time, each key's windows start at its phase plus a multiple of the hop. */
function reference(events: Event[], size: number, hop: number, grace: number) {
  const windows = new Map<string, { key: string; start: number; end: number; values: number[] }>();
  const late: Event[] = [];
  let watermark = -Infinity;
  let maxSeen = -Infinity;
  for (const e of events) {
    const phase = phaseOf(e.k, hop);
    let accepted = false;
    for (let start = phase + (Math.floor((e.t - phase) / hop) - size / hop) * hop; start <= e.t; start += hop) {
      const end = start + size;
      if (!(start <= e.t && e.t < end) || end + grace <= watermark) continue;
      const id = `${e.k}|${end}`;
      if (!windows.has(id)) windows.set(id, { key: e.k, start, end, values: [] });
      windows.get(id)!.values.push(e.v);
      accepted = true;
    }
    if (!accepted) late.push(e);
    maxSeen = Math.max(maxSeen, e.t);
    watermark = Math.max(watermark, maxSeen - OUT_OF_ORDERNESS);
  }
  const results = [...windows.values()].map((w) => ({ key: w.key, windowStart: w.start, windowEnd: w.end, revision: 0, n: w.values.length, total: w.values.reduce((a, b) => a + b, 0), hi: Math.max(...w.values) }));
  return { results, late };
}

/** `farBehind`: share of events up to 30 s behind (late); the others are at most 1.5 s behind. */
function randomEvents(seed: number, n: number, farBehind: number): Event[] {
  const random = new SeededRandom(seed);
  const events: Event[] = [];
  let now = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    now += random.int(400);
    const behind = random.next() < farBehind ? random.int(30_000) : random.int(1_500);
    events.push({ k: `card-${random.int(40)}`, t: now - behind, v: random.int(1000) - 200 });
  }
  return events;
}

const sortResults = (rows: Array<{ key: string; windowEnd: number }>) => [...rows].sort((a, b) => a.windowEnd - b.windowEnd || a.key.localeCompare(b.key));

test('the stagger hash is FNV-1a: the published test vectors', () => {
  // From the FNV reference (draft-eastlake-fnv): FNV-1a 32 of "", "a" and "foobar".
  assert.equal(keyHash(''), 0x811c9dc5);
  assert.equal(keyHash('a'), 0xe40c292c);
  assert.equal(keyHash('foobar'), 0xbf9cf968);
  for (const key of ['card-000001', 'ü€', 'k7']) assert.equal(keyHash(key), referenceKeyHash(key));
});

for (const kind of ['tumbling', 'hopping'] as const) {
  test(`staggered ${kind} windows equal a brute-force reference with per-key phases, under disorder and lateness`, async () => {
    const hop = kind === 'tumbling' ? 10_000 : 5_000;
    for (const seed of [1, 2]) {
      const events = randomEvents(seed, 3_000, 0.05);
      const { outputs, late } = await runOnArray(topologyWith(kind), events, { batchSize: 1 });
      const expected = reference(events, 10_000, hop, 3_000);
      assert.ok(expected.late.length > 10, 'the data set must contain late events');
      assert.deepEqual(sortResults(outputs.windows as never), sortResults(expected.results));
      assert.deepEqual(late.map((l) => l.value), expected.late);
      assert.ok(late.every((l) => l.step === (kind === 'tumbling' ? 'tumbling-10000ms-stagger-1000ms' : 'hopping-10000ms-every-5000ms-stagger-1000ms')));
      // In batches (the watermark moves per batch), with disorder inside the out-of-orderness: nothing late, the same windows.
      const ordered = randomEvents(seed, 3_000, 0);
      const batched = await runOnArray(topologyWith(kind), ordered, { batchSize: 64 });
      assert.equal(batched.late.length, 0);
      assert.deepEqual(sortResults(batched.outputs.windows as never), sortResults(reference(ordered, 10_000, hop, 3_000).results));
    }
  });
}

test('staggered windows of many keys close over the hop, not on one watermark', async () => {
  // 600 keys, one event each in the same 10 s of event time, then time moves on second by second.
  const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 10_000);
  const events: Event[] = Array.from({ length: 600 }, (_, i) => ({ k: `card-${i}`, t: t0 + 3_000, v: 1 }));
  for (let s = 1; s <= 40; s++) events.push({ k: 'clock', t: t0 + 3_000 + s * 1_000, v: 0 });
  const { outputs } = await runOnArray(topologyWith('tumbling'), events, { batchSize: 1 });
  const rows = (outputs.windows as Array<{ key: string; windowEnd: number }>).filter((row) => row.key !== 'clock');
  assert.equal(rows.length, 600);
  const ends = new Set(rows.map((row) => row.windowEnd));
  assert.equal(ends.size, 10, 'ten phases of 1 s in a 10 s hop, each its own window end');
  for (const row of rows) assert.equal(row.windowEnd, t0 + phaseOf(row.key, 10_000) + (phaseOf(row.key, 10_000) <= 3_000 ? 10_000 : 0));
});

test('a stagger that does not divide the hop fails fast naming the setting', () => {
  assert.throws(() => tumbling('1m', { stagger: '7s' }), (error: unknown) => error instanceof ConfigError && /tumbling\.stagger/.test(error.message));
  assert.throws(() => hopping('5m', '1m', { stagger: '1m' }), (error: unknown) => error instanceof ConfigError && /hopping\.stagger/.test(error.message));
});
