import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Engine } from '../../src/runtime/engine.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { referenceCardFeatures, referenceFraudVector } from '../helpers/fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, REPO_ROOT, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const MINUTE = 60_000;
const START = Date.UTC(2026, 5, 1, 10, 0);
/** Amounts of 70% of the cards are multiplied by 8 from here on. */
const SHIFT = START + 8 * MINUTE;
const END = START + 12 * MINUTE;
/** The training rate of the shipped model (models/fraud-lr.json): its baseline fits this traffic. */
const RATE = 40;
const THRESHOLD = 0.2;
const AMOUNT_FEATURES = ['log_sum1m', 'log_max1m', 'log_sum5m', 'log_max5m'];

interface DriftRowRead {
  feature: string;
  version: string;
  bucketStart: string;
  rows: string;
  psi: number;
  ks: number;
  counts: Array<string | number>;
  baselineCounts: Array<string | number>;
}

/** PSI written out here: shares floored at 1e-4, sum of (a - e) ln(a / e). */
function psiOf(actual: number[], expected: number[]): number {
  const a = actual.reduce((s, v) => s + v, 0);
  const e = expected.reduce((s, v) => s + v, 0);
  let psi = 0;
  for (let i = 0; i < actual.length; i++) {
    const p = Math.max(actual[i]! / a, 1e-4);
    const q = Math.max(expected[i]! / e, 1e-4);
    psi += (p - q) * Math.log(p / q);
  }
  return psi;
}

/** The largest gap between cumulative shares. */
function ksOf(actual: number[], expected: number[]): number {
  const a = actual.reduce((s, v) => s + v, 0);
  const e = expected.reduce((s, v) => s + v, 0);
  let ca = 0;
  let ce = 0;
  let gap = 0;
  for (let i = 0; i < actual.length; i++) {
    ca += actual[i]!;
    ce += expected[i]!;
    gap = Math.max(gap, Math.abs(ca / a - ce / e));
  }
  return gap;
}

/** Linear scan: the bin is the number of edges below the value. */
function bin(edges: number[], value: number): number {
  let i = 0;
  while (i < edges.length && edges[i]! < value) i++;
  return i;
}

test('drift injected mid-run on real Kafka and ClickHouse: PSI of the amount features crosses 0.2 within two windows of the shift, stays below it before, and equals PSI recomputed from the stored buckets', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig();
  const ch = clickhouse();
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 3 });
  // No late payments: every window the reference computes here is complete in the engine too.
  const generator = new CardPaymentModel({ seed: 23, lateShare: 0, amountShift: { from: SHIFT, factor: 8, cardShare: 0.7 } });
  const payments: Payment[] = [];
  for (let i = 0; i < ((END - START) / 1000) * RATE; i++) payments.push(generator.next(START + (i * 1000) / RATE).payment);

  const topology = createCardFraudTopology({ topic: paymentsTopic.topic, tablePrefix: prefix, statePrefix: `${prefix}:` });
  const engine = await Engine.start(topology, { config, push: false, logger: process.env.TEST_LOG ? createLogger('test') : silentLogger });
  t.after(async () => {
    await engine.stop();
    await paymentsTopic.close();
    await ch.close();
  });
  await paymentsTopic.send(payments);
  await paymentsTopic.sendWatermarkEvents(payments, 10 * MINUTE);

  const lastBucket = END - MINUTE;
  const drift = `${prefix}model_drift`;
  await waitFor('the drift bucket of the last minute of data', async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${drift} WHERE bucketStart = ${lastBucket}`))[0]!.n), (n) => n === 7, 120_000);
  const rows = await queryRows<DriftRowRead>(ch, `SELECT feature, version, bucketStart, rows, psi, ks, counts, baselineCounts FROM ${drift} WHERE bucketStart >= ${START} AND bucketStart <= ${lastBucket} ORDER BY bucketStart, feature`);

  // The baseline is the shipped model's (models/fraud-lr.json), stored in the registry's baselines table at first use.
  const card = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/fraud-lr.json'), 'utf8')) as { version: string; baseline: { features: Array<{ name: string; edges: number[]; counts: number[] }> } };
  const baseline = new Map(card.baseline.features.map((f) => [f.name, f]));
  const stored = await queryRows<{ feature: string; counts: string[]; source: string }>(ch, `SELECT feature, counts, source FROM ${prefix}model_baselines WHERE version = '${card.version}' ORDER BY position`);
  assert.deepEqual(stored.map((r) => [r.feature, r.counts.map(Number), r.source]), card.baseline.features.map((f) => [f.name, f.counts, 'model file sidecar']));

  // Every stored PSI and KS equals the one computed here from the stored counts.
  const buckets = new Map<number, Map<string, DriftRowRead>>();
  for (const row of rows) {
    assert.equal(row.version, card.version);
    const counts = row.counts.map(Number);
    const expected = row.baselineCounts.map(Number);
    assert.deepEqual(expected, baseline.get(row.feature)!.counts, `${row.feature}: the baseline's counts`);
    assert.ok(Math.abs(row.psi - psiOf(counts, expected)) < 1e-9, `${row.feature} ${row.bucketStart}: stored PSI ${row.psi} vs ${psiOf(counts, expected)}`);
    assert.ok(Math.abs(row.ks - ksOf(counts, expected)) < 1e-9, `${row.feature} ${row.bucketStart}: stored KS`);
    const bucket = buckets.get(Number(row.bucketStart)) ?? new Map<string, DriftRowRead>();
    buckets.set(Number(row.bucketStart), bucket.set(row.feature, row));
  }

  // The stored counts are each minute's windows binned: the inputs computed here from the payments
  // themselves, the scores as stored in fraud_predictions (the model's float32 output, which a
  // float64 recomputation would put on the other side of an edge now and then).
  const windows = referenceCardFeatures(payments);
  const scoredWindows = windows.filter((w) => w.windowEnd <= END).length;
  await waitFor('every prediction in ClickHouse', async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}fraud_predictions WHERE windowEnd <= ${END} AND source = 'model' AND cardId NOT LIKE 'watermark%'`))[0]!.n), (n) => n >= scoredWindows, 60_000);
  const scored = await queryRows<{ windowEnd: string; probability: number }>(ch, `SELECT windowEnd, probability FROM ${prefix}fraud_predictions FINAL WHERE source = 'model' AND cardId NOT LIKE 'watermark%'`);
  for (const [start, bucket] of buckets) {
    const inBucket = windows.filter((w) => w.windowEnd === start + MINUTE);
    const scores = scored.filter((p) => Number(p.windowEnd) === start + MINUTE).map((p) => p.probability);
    assert.equal(scores.length, inBucket.length, `one prediction per window ending at ${new Date(start + MINUTE).toISOString()}`);
    card.baseline.features.forEach(({ name, edges }, j) => {
      const values = name === 'score' ? scores : inBucket.map((w) => referenceFraudVector(w)[j]!);
      const expected = new Array<number>(edges.length + 1).fill(0);
      for (const value of values) expected[bin(edges, Math.fround(value))]!++;
      assert.equal(Number(bucket.get(name)!.rows), inBucket.length, `rows of the bucket at ${new Date(start).toISOString()}`);
      assert.deepEqual(bucket.get(name)!.counts.map(Number), expected, `${name} at ${new Date(start).toISOString()}`);
    });
  }

  const psi = (start: number, feature: string) => buckets.get(start)!.get(feature)!.psi;
  const table: string[] = [];
  for (const start of [...buckets.keys()].sort((a, b) => a - b)) table.push(`${(start - SHIFT) / MINUTE} min: ${[...buckets.get(start)!.values()].map((r) => `${r.feature} ${r.psi.toFixed(3)}`).join(', ')}`);
  console.log(`[drift] PSI per bucket (minutes from the shift):\n  ${table.join('\n  ')}`);
  // Before the shift (once the 5-minute windows are full): below the threshold, every feature.
  for (let start = START + 4 * MINUTE; start < SHIFT; start += MINUTE) {
    for (const [feature, row] of buckets.get(start)!) assert.ok(row.psi < THRESHOLD, `${feature} before the shift at ${new Date(start).toISOString()}: PSI ${row.psi}`);
  }
  // From the shift: each amount feature crosses the threshold within two buckets and stays above it to the end of the data.
  for (const feature of AMOUNT_FEATURES) {
    const crossed = [SHIFT, SHIFT + MINUTE].find((start) => psi(start, feature) > THRESHOLD);
    assert.ok(crossed !== undefined, `${feature} crosses ${THRESHOLD} within two windows of the shift: ${psi(SHIFT, feature)}, ${psi(SHIFT + MINUTE, feature)}`);
    for (let start = crossed; start <= lastBucket; start += MINUTE) assert.ok(psi(start, feature) > THRESHOLD, `${feature} stays above at ${new Date(start).toISOString()}`);
  }

  // The gauges show the last closed bucket with enough rows, and no scored row came too late for its bucket.
  const gauges = (await engine.metrics.driftPsi.get()).values;
  const lastWritten = await queryRows<{ feature: string; psi: number }>(ch, `SELECT feature, psi FROM ${drift} WHERE bucketStart = (SELECT max(bucketStart) FROM ${drift} WHERE rows >= 100)`);
  assert.equal(gauges.length, 7);
  for (const row of lastWritten) {
    const gauge = gauges.find((g) => g.labels.feature === row.feature && g.labels.model === 'fraud-lr');
    assert.ok(gauge && Math.abs(gauge.value - row.psi) < 1e-9, `gauge of ${row.feature}: ${gauge?.value} vs ${row.psi}`);
  }
  assert.equal((await engine.metrics.driftLateRows.get()).values.reduce((s, v) => s + v.value, 0), 0);
});
