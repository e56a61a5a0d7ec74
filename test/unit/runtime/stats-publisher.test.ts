import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../../src/observability/metrics.ts';
import { StatsPublisher } from '../../../src/runtime/stats-publisher.ts';
import type { EngineStats } from '../../../src/runtime/engine-stats.ts';

function setup() {
  const metrics = new Metrics();
  const engine: EngineStats = { inFlight: 10, peakInFlight: 10, maxInFlight: 100, fetchBlocked: 0, sinkWaits: 0, processedRecords: 0, watermark: Date.now() - 5_000, routed: {} };
  const sinks = [{ name: 'clickhouse:t', output: 'features', full: false }];
  const publisher = new StatsPublisher({ topology: 'x', source: 'kafka topic p', metrics, engine: () => engine, sinks: () => sinks, publish: () => {} });
  return { metrics, engine, sinks, publisher };
}

test('rates are the increase since the last snapshot; operators come with their kind and open windows', async () => {
  const { metrics, publisher } = setup();
  await publisher.snapshot();
  metrics.recordsIn.inc({ topology: 'x' }, 1_000);
  metrics.stepRecordsIn.inc({ topology: 'x', step: 'keyBy' }, 1_000);
  metrics.stepRecordsIn.inc({ topology: 'x', step: 'card-1m' }, 1_000);
  metrics.openWindows.set({ topology: 'x', step: 'card-1m' }, 42);
  metrics.sinkRows.inc({ topology: 'x', sink: 'clickhouse:t' }, 500);
  metrics.deadLetters.inc({ topology: 'x', step: 'decode' }, 3);
  metrics.modelInfo.set({ topology: 'x', step: 'fraud-score', model: 'fraud-lr', version: 'abc' }, 1);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const stats = await publisher.snapshot();
  // Elapsed time is about 0.2 s: 1,000 records are about 5,000 per second.
  assert.ok(stats.recordsPerSecond > 3_000 && stats.recordsPerSecond <= 5_000, String(stats.recordsPerSecond));
  assert.deepEqual(stats.operators.map(({ name, kind, openWindows }) => ({ name, kind, openWindows })), [
    { name: 'keyBy', kind: 'step', openWindows: undefined },
    { name: 'card-1m', kind: 'window', openWindows: 42 },
  ]);
  assert.equal(stats.sinks[0]!.rowsPerSecond, stats.operators[0]!.recordsPerSecond! / 2);
  assert.equal(stats.deadLetters, 3);
  assert.deepEqual(stats.models, ['fraud-lr@abc']);
  assert.equal(stats.backpressure, 'ok');
  assert.ok(stats.watermarkLagMs! >= 5_000 && stats.watermarkLagMs! < 6_000);
  const next = await publisher.snapshot();
  assert.equal(next.recordsPerSecond, 0, 'nothing since the last snapshot');
});

test('latency quantiles interpolate within the buckets of what was acknowledged since the last snapshot', async () => {
  const { metrics, publisher } = setup();
  const series = metrics.endToEndLatency.labels({ topology: 'x', sink: 'clickhouse:t' });
  for (let i = 0; i < 100; i++) series.observe(0.3); // bucket (0.25, 0.5]
  await publisher.snapshot();
  assert.deepEqual((await publisher.snapshot()).latencyMs, { p50: null, p99: null }, 'nothing new acknowledged');
  for (let i = 0; i < 98; i++) series.observe(1.5); // (1, 2]
  for (let i = 0; i < 2; i++) series.observe(7); // (5, 10]
  const { latencyMs } = await publisher.snapshot();
  assert.equal(latencyMs.p50, (1 + (2 - 1) * (50 / 98)) * 1000);
  assert.equal(latencyMs.p99, (5 + (10 - 5) * (1 / 2)) * 1000);
});

test('backpressure: a full sink, else a full in-flight buffer or a fetch that had to wait', async () => {
  const { engine, sinks, publisher } = setup();
  engine.fetchBlocked = 1;
  assert.equal((await publisher.snapshot()).backpressure, 'fetch-blocked');
  assert.equal((await publisher.snapshot()).backpressure, 'ok');
  sinks[0]!.full = true;
  assert.equal((await publisher.snapshot()).backpressure, 'sink-full');
});

test('contract violations per rule: totals, and the rate since the last snapshot, for every rule counted (at 0 too)', async () => {
  const { metrics, publisher } = setup();
  for (const rule of ['amount-range', 'currency-known']) metrics.contractViolations.inc({ topology: 'x', rule }, 0);
  assert.deepEqual((await publisher.snapshot()).contractViolations, [
    { rule: 'amount-range', perSecond: 0, total: 0 },
    { rule: 'currency-known', perSecond: 0, total: 0 },
  ]);
  metrics.contractViolations.inc({ topology: 'x', rule: 'currency-known' }, 40);
  await new Promise((resolve) => setTimeout(resolve, 250));
  const [amount, currency] = (await publisher.snapshot()).contractViolations;
  assert.deepEqual(amount, { rule: 'amount-range', perSecond: 0, total: 0 });
  assert.equal(currency!.total, 40);
  // At least 0.2 s elapsed (a timer may fire a little early): 40 violations are at most 200 per second.
  assert.ok(currency!.perSecond > 0 && currency!.perSecond <= 200, String(currency!.perSecond));
  assert.equal((await publisher.snapshot()).contractViolations[1]!.perSecond, 0, 'none since the last snapshot');
});
