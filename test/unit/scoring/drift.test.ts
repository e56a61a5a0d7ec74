import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/observability/logger.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { computeBaseline, histogramOf, type DriftBaseline } from '../../../src/registry/drift-baseline.ts';
import { binnedKsDistance, populationStabilityIndex } from '../../../src/registry/drift-statistics.ts';
import type { DriftRow } from '../../../src/registry/drift-table.ts';
import { DriftBuckets } from '../../../src/scoring/drift-buckets.ts';
import { DriftMonitor } from '../../../src/scoring/drift-monitor.ts';
import type { ScoringModel } from '../../../src/scoring/scoring-model.ts';

const MINUTE = 60_000;

test('baseline histograms cut at the deciles: 1..100 gives edges 10, 20, ..., 90 and 10 rows per bin; repeated deciles collapse', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.deepEqual(histogramOf('x', hundred), { name: 'x', edges: [10, 20, 30, 40, 50, 60, 70, 80, 90], counts: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10] });
  // 70 zeros, 20 ones, 10 twos: deciles 0 (x7), 1 (x2): bins (-inf, 0], (0, 1], (1, inf).
  const counts = [...new Array(70).fill(0), ...new Array(20).fill(1), ...new Array(10).fill(2)];
  assert.deepEqual(histogramOf('n', counts), { name: 'n', edges: [0, 1], counts: [70, 20, 10] });
  const baseline = computeBaseline(['a', 'b'], hundred.map((v) => [v, v % 2]), hundred.map((v) => v / 100));
  assert.deepEqual(baseline.features.map((f) => f.name), ['a', 'b', 'score']);
  assert.deepEqual(baseline.features[1], { name: 'b', edges: [0, 1], counts: [50, 50, 0] });
  assert.equal(baseline.rows, 100);
});

test('PSI and KS by hand: shares 0.5/0.5 against 0.25/0.75, and an empty bin floored at 1e-4', () => {
  const psi = 0.25 * Math.log(0.5 / 0.25) + -0.25 * Math.log(0.5 / 0.75);
  assert.ok(Math.abs(populationStabilityIndex([50, 50], [25, 75]) - psi) < 1e-15);
  assert.equal(binnedKsDistance([50, 50], [25, 75]), 0.25);
  // Live all in bin 0: bin 1's live share is 0, floored to 1e-4.
  const floored = (1 - 0.5) * Math.log(1 / 0.5) + (1e-4 - 0.5) * Math.log(1e-4 / 0.5);
  assert.ok(Math.abs(populationStabilityIndex([10, 0], [5, 5]) - floored) < 1e-12);
  assert.equal(populationStabilityIndex([0, 0], [5, 5]), Number.NaN);
  // A slice of a longer array, as the engine keeps every histogram's bins back to back.
  assert.equal(populationStabilityIndex([9, 9, 50, 50, 9], [25, 75], 2, 2), populationStabilityIndex([50, 50], [25, 75]));
});

/** One input with edges [1, 2] and a score with edge [0.5]. */
const BASELINE: DriftBaseline = { rows: 100, features: [{ name: 'x', edges: [1, 2], counts: [40, 40, 20] }, { name: 'score', edges: [0.5], counts: [90, 10] }] };

test('live counts per event-time bucket: each row in its minute, each value in its bin; rows of a closed bucket are late', () => {
  const buckets = new DriftBuckets(BASELINE, MINUTE);
  const t0 = 10 * MINUTE;
  // Values 0.5 (bin 0), 1 (bin 0: edges are upper-inclusive), 1.5 (bin 1), 3 (bin 2); the last row in the next minute.
  assert.equal(buckets.observe(Float32Array.from([0.5, 1, 1.5, 3]), 4, 1, [0.1, 0.6, 0.5, 0.9], [t0, t0 + 1, t0 + 59_999, t0 + MINUTE]), 0);
  assert.equal(buckets.earliestOpenEnd, t0 + MINUTE);
  assert.deepEqual(buckets.close(t0 + MINUTE - 1), []);
  const [first, ...rest] = buckets.close(t0 + MINUTE);
  assert.equal(rest.length, 0);
  assert.deepEqual({ start: first!.start, end: first!.end, rows: first!.rows, counts: [...first!.counts] }, { start: t0, end: t0 + MINUTE, rows: 3, counts: [2, 1, 0, 2, 1] });
  assert.equal(buckets.observe(Float32Array.from([1]), 1, 1, [0.2], [t0 + 5]), 1, 'a row of the closed minute is late');
  assert.equal(buckets.observe(Float32Array.from([1, 2]), 2, 2, [0.2], [t0]), 0, 'another width is not counted');
  const [second] = buckets.close(t0 + 3 * MINUTE);
  assert.deepEqual([...second!.counts], [0, 0, 1, 0, 1]);
});

const model = (version: string) => ({ name: 'm', version }) as ScoringModel;

test('the monitor closes a bucket once the lowest watermark of the score steps is a bucket past its end; gauges, rows and late rows', async () => {
  const metrics = new Metrics();
  const written: DriftRow[][] = [];
  const monitor = new DriftMonitor({ topology: 't', model: 'm', metrics, logger: silentLogger, minRows: 2, writer: { table: 'model_drift', insert: async (rows) => void written.push([...rows]) } });
  monitor.setBaseline('v1', BASELINE);
  let topologyWatermark = -Infinity;
  const fast = monitor.attach(() => topologyWatermark);
  const slow = monitor.attach();
  const t0 = 20 * MINUTE;
  monitor.observe(model('v1'), Float32Array.from([0, 0, 3, 3]), 4, 1, Float32Array.from([0.9, 0.9, 0.9, 0.9]), Float64Array.from([t0, t0, t0, t0]));
  monitor.observe(model('v2'), Float32Array.from([0]), 1, 1, Float32Array.from([0.9]), Float64Array.from([t0]));
  fast.advance(t0 + 3 * MINUTE);
  assert.equal(monitor.recent().length, 0, 'a step that emitted nothing yet holds the bucket open');
  slow.advance(t0 + 2 * MINUTE);
  assert.equal(monitor.recent().length, 0, 'a partition without a score step yet (the topology watermark) holds it open');
  topologyWatermark = t0 + 2 * MINUTE - 1;
  fast.advance(t0 + 3 * MINUTE + 1);
  assert.equal(monitor.recent().length, 0, 'a bucket closes one bucket after its end');
  topologyWatermark = t0 + 2 * MINUTE;
  fast.advance(t0 + 3 * MINUTE + 2);
  assert.equal(monitor.recent().length, 1);
  await monitor.close();
  // Live x: bins [2, 0, 2] against [40, 40, 20]; score: [0, 4] against [90, 10].
  const psiX = (0.5 - 0.4) * Math.log(0.5 / 0.4) + (1e-4 - 0.4) * Math.log(1e-4 / 0.4) + (0.5 - 0.2) * Math.log(0.5 / 0.2);
  const psiScore = (1e-4 - 0.9) * Math.log(1e-4 / 0.9) + (1 - 0.1) * Math.log(1 / 0.1);
  assert.equal(written.length, 1);
  assert.deepEqual(written[0]!.map((r) => [r.feature, r.version, r.bucketStart, r.rows, r.counts, r.baselineCounts]), [['x', 'v1', t0, 4, [2, 0, 2], [40, 40, 20]], ['score', 'v1', t0, 4, [0, 4], [90, 10]]]);
  assert.ok(Math.abs(written[0]![0]!.psi - psiX) < 1e-12 && Math.abs(written[0]![1]!.psi - psiScore) < 1e-12);
  // Cumulative shares 0.5, 0.5, 1 against 0.4, 0.8, 1: the largest gap is 0.3.
  assert.ok(Math.abs(written[0]![0]!.ks - 0.3) < 1e-15);
  const gauge = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels.feature, v.value]);
  assert.deepEqual((await gauge('tributary_drift_psi')).map(([f, v]) => [f, Number((v as number).toFixed(9))]), [['x', Number(psiX.toFixed(9))], ['score', Number(psiScore.toFixed(9))]]);
  monitor.observe(model('v1'), Float32Array.from([0]), 1, 1, Float32Array.from([0.1]), Float64Array.from([t0 + 30_000]));
  assert.deepEqual((await metrics.registry.getSingleMetric('tributary_drift_late_rows_total')!.get()).values.map((v) => v.value), [1]);
});

test('many bins (a binary search) and few (a scan) put every value where counting edges below it does', () => {
  for (const bins of [10, 100]) {
    const values = Array.from({ length: 1_000 }, (_, i) => Math.fround(Math.sin(i) * 50));
    const histogram = histogramOf('v', values, bins);
    const buckets = new DriftBuckets({ rows: values.length, features: [histogram, { name: 'score', edges: [], counts: [values.length] }] }, MINUTE);
    buckets.observe(Float32Array.from(values), values.length, 1, new Float32Array(values.length), new Float64Array(values.length));
    const [closed] = buckets.close(MINUTE);
    const expected = new Array<number>(histogram.edges.length + 1).fill(0);
    for (const v of values) expected[histogram.edges.filter((e) => e < v).length]!++;
    assert.deepEqual([...closed!.counts.subarray(0, expected.length)], expected, `${bins} bins`);
    assert.deepEqual(expected, histogram.counts, 'the baseline counts the same way');
  }
});
