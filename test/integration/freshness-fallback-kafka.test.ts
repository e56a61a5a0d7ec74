import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { OnnxModel } from '../../src/scoring/onnx-model.ts';
import { scoreBatch } from '../../src/batch/batch-scoring.ts';
import { clickhouseModelRegistry } from '../../src/registry/clickhouse-model-registry.ts';
import { servingPlan } from '../../src/registry/lifecycle.ts';
import { RedisKeyValueStore } from '../../src/state/redis-store.ts';
import { createCardFraudTopology, DEFAULT_MODEL_PATH, FALLBACK_PROBABILITY } from '../../topologies/card-fraud.ts';
import type { CardFeatures } from '../../topologies/card-fraud-features.ts';
import { referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { referenceProbability, shippedFraudModel, subscribeChannel } from '../helpers/fraud-models.ts';
import { clickhouse, engineConfig, queryRows, requireService, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const MINUTE = 60_000;
/** The features' freshness SLO in this test: a window older than this when it closes is stale. */
const SLO_MINUTES = 15;

interface Row {
  cardId: string;
  windowEnd: number;
  probability: number;
  model: string;
  source: string;
  fallbackReason: string;
}

test('freshness-gated fallback on real Kafka, ClickHouse and the WebSocket: windows older than the SLO are served their batch prediction (source batch, reason stale-inputs), fresh ones are scored, counted per reason', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig();
  const ch = clickhouse();
  const topic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 2, name: 'payments_fresh' });
  const store = await RedisKeyValueStore.connect(requireService('REDIS_URL'), { prefix: `tributary:card-fraud:${prefix}`, logger: silentLogger });
  const topology = createCardFraudTopology({ topic: topic.topic, tablePrefix: prefix, statePrefix: prefix, batchRefresh: '300ms', freshness: { features: `${SLO_MINUTES}m` } });
  const engine = await Engine.start(topology, { config, logger: process.env.TEST_LOG ? createLogger('test') : silentLogger, push: true });
  const batchModel = await OnnxModel.load(DEFAULT_MODEL_PATH, { name: 'fraud-lr' });
  t.after(async () => {
    await engine.stop();
    await batchModel.close();
    await topic.close();
    await store.close();
    await ch.close();
  });
  const { received, close } = await subscribeChannel<Row>(engine.environment.pushServer!.port, 'fraud');
  t.after(close);

  const stale = Array.from({ length: 30 }, (_, i) => `${prefix}stale-${i}`);
  const fresh = Array.from({ length: 30 }, (_, i) => `${prefix}fresh-${i}`);
  const unknown = Array.from({ length: 10 }, (_, i) => `${prefix}unknown-${i}`);
  let n = 0;
  const payments = (cards: string[], from: number, count: number, gapMs: number): Payment[] =>
    Array.from({ length: count }, (_, i) => ({ paymentId: `${prefix}p-${n++}`, cardId: cards[i % cards.length]!, merchantId: `m-${i % 7}`, amount: 4 + ((i * 37) % 300), currency: 'EUR', country: 'DE', ts: from + i * gapMs }));
  const rowsOf = async (expected: CardFeatures[]): Promise<Row[]> => {
    const keys = new Set(expected.map((f) => `${f.cardId}|${f.windowEnd}`));
    const where = `cardId LIKE '${prefix}%' AND windowEnd BETWEEN ${Math.min(...expected.map((f) => f.windowEnd))} AND ${Math.max(...expected.map((f) => f.windowEnd))}`;
    const query = `SELECT cardId, toInt64(windowEnd) AS windowEnd, probability, model, source, fallbackReason FROM ${prefix}fraud_predictions FINAL WHERE ${where} ORDER BY cardId, windowEnd`;
    const rows = await waitFor(`${expected.length} predictions`, async () => (await queryRows<Row>(ch, query)).filter((row) => keys.has(`${row.cardId}|${Number(row.windowEnd)}`)), (r) => r.length >= expected.length, 120_000);
    assert.equal(rows.length, expected.length, 'one prediction per window');
    return rows.map((row) => ({ ...row, windowEnd: Number(row.windowEnd), probability: Number(row.probability) }));
  };
  const fallbackRows = async () => Object.fromEntries((await engine.metrics.scoringFallbackRows.get()).values.map(({ labels, value }) => [String(labels.reason), value]));

  // Stage 0, three hours old: every window is older than the SLO and no batch prediction exists
  // yet, so each gets the prior, with the reason.
  const now0 = Date.now();
  const stage0 = payments([...stale, ...fresh], now0 - 3 * 60 * MINUTE, 1_200, 500);
  await topic.send(stage0);
  await topic.sendWatermarkEvents(stage0, 10 * MINUTE);
  const expected0 = referenceCardFeatures(stage0);
  const rows0 = await rowsOf(expected0);
  assert.deepEqual(new Set(rows0.map((row) => `${row.source}|${row.model}|${row.fallbackReason}|${row.probability}`)), new Set([`fallback|prior|stale-inputs|${FALLBACK_PROBABILITY}`]));

  // The batch job scores each card's latest window into batch_predictions; the engine loads them.
  const live = servingPlan(await clickhouseModelRegistry(ch, { table: `${prefix}model_registry` }).list('fraud-lr')).live!;
  await scoreBatch({ client: ch, store, lifecycle: topology.lifecycle!, model: batchModel, registered: live });
  const shipped = shippedFraudModel();
  const latest = new Map<string, CardFeatures>();
  for (const f of expected0) if ((latest.get(f.cardId)?.windowEnd ?? -1) < f.windowEnd) latest.set(f.cardId, f);
  const batchProbability = new Map([...latest].map(([card, f]) => [card, referenceProbability(shipped, f)]));
  const table = topology.tables![0]!;
  await waitFor('batch predictions loaded by the engine', async () => [...stale, ...fresh].filter((card) => table.get(card) !== undefined).length, (count) => count === 60, 20_000);

  // Stage 1 in event-time order: an hour old for the stale and unknown cards, then five minutes
  // old for the fresh ones; the watermark events close every window.
  const now1 = Date.now();
  const old = payments([...stale, ...unknown], now1 - 60 * MINUTE, 400, 300);
  const recent = payments(fresh, now1 - 6 * MINUTE, 400, 300);
  await topic.send([...old, ...recent]);
  await topic.sendWatermarkEvents(recent, 6 * MINUTE);
  const expectedOld = referenceCardFeatures(old);
  const expectedRecent = referenceCardFeatures(recent);
  const rowsOld = await rowsOf(expectedOld);
  const rowsRecent = await rowsOf(expectedRecent);
  for (const row of rowsOld) {
    const batch = batchProbability.get(row.cardId);
    if (batch === undefined) {
      assert.deepEqual([row.source, row.model, row.fallbackReason, row.probability], ['fallback', 'prior', 'stale-inputs', FALLBACK_PROBABILITY], row.cardId);
    } else {
      assert.deepEqual([row.source, row.model, row.fallbackReason], ['batch', `fraud-lr@${live.version}`, 'stale-inputs'], row.cardId);
      assert.ok(Math.abs(row.probability - batch) < 1e-6, `${row.cardId}: its batch prediction`);
    }
  }
  assert.equal(rowsOld.filter((row) => row.source === 'batch').length, expectedOld.filter((f) => f.cardId.startsWith(`${prefix}stale-`)).length);
  const byWindow = new Map(expectedRecent.map((f) => [`${f.cardId}|${f.windowEnd}`, f]));
  for (const row of rowsRecent) {
    assert.deepEqual([row.source, row.fallbackReason], ['model', ''], row.cardId);
    assert.ok(Math.abs(row.probability - referenceProbability(shipped, byWindow.get(`${row.cardId}|${row.windowEnd}`)!)) < 1e-5, `${row.cardId}: scored by the model`);
  }

  // The WebSocket says the same for every stage-1 window.
  const stage1 = new Map([...rowsOld, ...rowsRecent].map((row) => [`${row.cardId}|${row.windowEnd}`, row]));
  const pushed = await waitFor('stage 1 on the WebSocket', async () => received.filter((m) => stage1.has(`${m.cardId}|${m.windowEnd}`)), (m) => m.length >= stage1.size, 30_000);
  for (const message of pushed) {
    const row = stage1.get(`${message.cardId}|${message.windowEnd}`)!;
    assert.deepEqual([message.source, message.fallbackReason, message.model], [row.source, row.fallbackReason, row.model]);
    assert.ok(Math.abs(message.probability - row.probability) < 1e-6);
  }
  assert.equal(new Set(pushed.map((m) => m.fallbackReason)).size, 2, 'both fresh and stale windows were pushed');

  // Counted per reason, and as stale records of both outputs with an SLO: the windows above and
  // those of stage 0's two watermark events (one per partition, card watermark-<p>), which stage 1 closed.
  const lastTs0 = Math.max(...stage0.map((p) => p.ts));
  const markers0 = referenceCardFeatures([0, 1].map((p) => ({ ...stage0[0]!, cardId: `watermark-${p}`, ts: lastTs0 + 10 * MINUTE })));
  const staleWindows = expected0.length + expectedOld.length + markers0.length;
  assert.deepEqual(await fallbackRows(), { 'stale-inputs': staleWindows });
  const staleOutputs = Object.fromEntries((await engine.metrics.outputStaleRecords.get()).values.map(({ labels, value }) => [String(labels.output), value]));
  assert.deepEqual(staleOutputs, { features: staleWindows, predictions: staleWindows });
  const slo = (await engine.metrics.outputFreshnessSlo.get()).values.map(({ labels, value }) => [labels.output, value]);
  assert.deepEqual(slo, [['features', SLO_MINUTES * 60], ['predictions', SLO_MINUTES * 60]]);
  t.diagnostic(`stage 0: ${rows0.length} prior (stale); stage 1: ${rowsOld.filter((r) => r.source === 'batch').length} batch + ${rowsOld.filter((r) => r.source === 'fallback').length} prior (stale), ${rowsRecent.length} scored (fresh)`);
});
