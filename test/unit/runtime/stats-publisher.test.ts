import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../../src/observability/metrics.ts';
import { StatsPublisher } from '../../../src/runtime/stats-publisher.ts';
import { stageLatencyOf } from '../../../src/observability/stage-latency.ts';
import type { EngineStats } from '../../../src/runtime/engine-stats.ts';
import { modelQuality } from '../../../src/runtime/models.ts';
import type { AnyTopology } from '../../../src/topology/define-topology.ts';

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

test("the served models' quality: the latest 30 drift buckets (an empty histogram's NaN as null) and the outcomes", async () => {
  const drift = Array.from({ length: 40 }, (_, i) => ({ model: 'm', version: 'v1', bucketStart: i * 60_000, bucketEnd: (i + 1) * 60_000, rows: 100 + i, features: [{ name: 'x', psi: i === 39 ? Number.NaN : i / 100, ks: 0.5 }] }));
  const outcomes = [{ model: 'm', version: 'v1', dayStart: 0, day: '1970-01-01', rows: 10, positives: 2, auc: null, logLoss: 0.3, ece: 0.1, precisionAtK: 0.5, k: 10, computedAt: 5 }];
  const served = { qualitySnapshot: () => ({ model: 'm', live: 'v1', driftWatched: true, driftThreshold: 0.2, drift, outcomes }) };
  const quality = modelQuality({ models: [served, { qualitySnapshot: () => undefined }] } as unknown as AnyTopology);
  const publisher = new StatsPublisher({ topology: 'x', source: 's', metrics: new Metrics(), engine: () => ({ inFlight: 0, peakInFlight: 0, maxInFlight: 1, fetchBlocked: 0, sinkWaits: 0, processedRecords: 0, watermark: -Infinity, routed: {} }), sinks: () => [], quality: () => quality, publish: () => {} });
  const [model] = (await publisher.snapshot()).quality!;
  assert.deepEqual([model!.model, model!.live, model!.driftWatched, model!.driftThreshold], ['m', 'v1', true, 0.2]);
  assert.deepEqual(model!.drift.map((b) => b.bucketStart), drift.slice(10).map((b) => b.bucketStart));
  assert.deepEqual(model!.drift.at(-1)!.features, [{ name: 'x', psi: null, ks: 0.5 }]);
  assert.deepEqual(model!.outcomes, [{ version: 'v1', day: '1970-01-01', rows: 10, positives: 2, auc: null, logLoss: 0.3, ece: 0.1, precisionAtK: 0.5, k: 10 }]);
  assert.equal(JSON.parse(JSON.stringify(model)).drift.length, 30, 'plain JSON for the WebSocket frame');
});

test('processing latency is WebSocket delivery where the topology has a channel, apart from event-time lag; stages in close-path order', async () => {
  const { metrics, sinks, publisher } = setup();
  sinks.push({ name: 'ws:fraud', output: 'predictions', full: false });
  const latency = stageLatencyOf(metrics.registry, 'x');
  await publisher.snapshot();
  for (let i = 0; i < 100; i++) metrics.endToEndLatency.labels({ topology: 'x', sink: 'ws:fraud' }).observe(600); // a replay 10 minutes behind
  latency.processingOf('ws:fraud').observeMany(0.015, 100); // (0.01, 0.02]
  latency.processingOf('clickhouse:t').observeMany(1.2, 100); // a ClickHouse sink's batching is not delivery
  latency.stage('sink', 'ws:fraud').observeMany(0.015, 10);
  latency.stage('scored', '').observeMany(0.012, 10);
  latency.stage('closed', '').observeMany(0.004, 20);
  const stats = await publisher.snapshot();
  assert.equal(stats.processingLatencyMs.p50, (0.01 + 0.01 * 0.5) * 1000);
  assert.ok(stats.latencyMs.p50! > 300_000, `event-time lag ${stats.latencyMs.p50}`);
  assert.deepEqual(stats.stageLatencyMs.map((s) => s.stage), ['closed', 'scored', 'ws:fraud']);
  const again = await publisher.snapshot();
  assert.deepEqual(again.processingLatencyMs, { p50: null, p99: null }, 'nothing delivered since');
  assert.deepEqual(again.stageLatencyMs, []);
});
