import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { ScoringError } from '../../src/core/errors.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { OnnxModel } from '../../src/scoring/onnx-model.ts';
import type { ScoringModel } from '../../src/scoring/scoring-model.ts';
import { scoreBatch, batchPredictionKey } from '../../src/batch/batch-scoring.ts';
import { clickhouseModelRegistry } from '../../src/registry/clickhouse-model-registry.ts';
import { servingPlan } from '../../src/registry/lifecycle.ts';
import { RedisKeyValueStore } from '../../src/state/redis-store.ts';
import { createCardFraudTopology, DEFAULT_MODEL_PATH, FALLBACK_PROBABILITY } from '../../topologies/card-fraud.ts';
import type { CardFeatures } from '../../topologies/card-fraud-features.ts';
import { referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { referenceProbability, shippedFraudModel, subscribeChannel, type PredictionRow } from '../helpers/fraud-models.ts';
import { clickhouse, engineConfig, queryRows, requireService, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const START = Date.UTC(2026, 10, 3, 9, 0, 0);
const MINUTE = 60_000;

/** Scores like the model, or fails every call while `failing` is set (an injected scoring fault). */
function faultable(model: ScoringModel, fault: { failing: boolean }): ScoringModel {
  return {
    name: model.name,
    version: model.version,
    featureNames: model.featureNames,
    featureCount: model.featureCount,
    score: (features, rows) => (fault.failing ? Promise.reject(new ScoringError('injected scoring fault')) : model.score(features, rows)),
    close: () => model.close(),
  };
}

test('fallback to batch on real Kafka, ClickHouse and Redis: a scoring fault serves each card its batch prediction (source=batch in ClickHouse and on the WebSocket), the prior for cards without one, and model scores again after recovery', { timeout: 240_000 }, async (t) => {
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig();
  const ch = clickhouse();
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 2 });
  const store = await RedisKeyValueStore.connect(requireService('REDIS_URL'), { prefix: 'tributary:card-fraud:', logger: silentLogger });
  const fault = { failing: false };
  const topology = createCardFraudTopology({
    topic: paymentsTopic.topic,
    tablePrefix: prefix,
    loadModel: async (path) => faultable(await OnnxModel.load(path, { name: 'fraud-lr' }), fault),
    breaker: { failureThreshold: 1, coolDown: '1s', maxCoolDown: '2s' },
    batchRefresh: '300ms',
  });
  const engine = await Engine.start(topology, { config, logger: process.env.TEST_LOG ? createLogger('test') : silentLogger, push: true });
  const batchModel = await OnnxModel.load(DEFAULT_MODEL_PATH, { name: 'fraud-lr' });
  t.after(async () => {
    await engine.stop();
    await batchModel.close();
    await paymentsTopic.close();
    await store.close();
    await ch.close();
  });
  const { received, close } = await subscribeChannel<{ cardId: string; windowEnd: number; source: string; probability: number }>(engine.environment.pushServer!.port, 'fraud');
  t.after(close);

  const cards = Array.from({ length: 100 }, (_, i) => `${prefix}card-${i}`);
  const payment = (cardId: string, ts: number, n: number): Payment => ({ paymentId: `${prefix}p-${n}`, cardId, merchantId: `m-${n % 7}`, amount: 3 + ((n * 37) % 400), currency: 'EUR', country: 'DE', ts });
  async function runStage(payments: Payment[]): Promise<{ rows: PredictionRow[]; expected: CardFeatures[] }> {
    await paymentsTopic.send(payments);
    await paymentsTopic.sendWatermarkEvents(payments, 10 * MINUTE);
    const expected = referenceCardFeatures(payments);
    const from = Math.min(...expected.map((f) => f.windowEnd));
    const to = Math.max(...expected.map((f) => f.windowEnd));
    const where = `cardId LIKE '${prefix}%' AND windowEnd BETWEEN ${from} AND ${to}`;
    await waitFor(`${expected.length} predictions`, async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}fraud_predictions WHERE ${where}`))[0]!.n), (n) => n >= expected.length, 120_000);
    const rows = await queryRows<PredictionRow>(ch, `SELECT cardId, windowEnd, probability, model, modelVersion, featureVersion, source, challengerModel, challengerProbability FROM ${prefix}fraud_predictions WHERE ${where} ORDER BY cardId, windowEnd`);
    assert.equal(rows.length, expected.length, 'one prediction per window');
    return { rows, expected };
  }

  // Stage A, healthy: 100 cards, model scores.
  const live = servingPlan(await clickhouseModelRegistry(ch, { table: `${prefix}model_registry` }).list('fraud-lr')).live!;
  const stageA = Array.from({ length: 2_000 }, (_, i) => payment(cards[i % 100]!, START + i * 100, i));
  const a = await runStage(stageA);
  assert.ok(a.rows.every((row) => row.source === 'model' && row.modelVersion === live.version));

  // The batch job: one prediction per card (its latest window) in ClickHouse and Redis.
  const run = await scoreBatch({ client: ch, store, lifecycle: topology.lifecycle!, model: batchModel, registered: live });
  const shipped = shippedFraudModel();
  const latest = new Map<string, CardFeatures>();
  for (const f of a.expected) if ((latest.get(f.cardId)?.windowEnd ?? -1) < f.windowEnd) latest.set(f.cardId, f);
  const batchProbability = new Map([...latest].map(([card, f]) => [card, referenceProbability(shipped, f)]));
  for (const card of cards.slice(0, 3)) {
    const stored = await store.lookup(batchPredictionKey(card));
    assert.ok(Math.abs(Number((stored.value as { probability: number }).probability) - batchProbability.get(card)!) < 1e-6, `batch prediction of ${card} in Redis`);
  }
  const table = topology.tables![0]!;
  await waitFor('batch predictions loaded by the engine', async () => cards.filter((card) => table.get(card) !== undefined).length, (n) => n === 100, 20_000);
  assert.ok(run.entities >= 100);

  // Stage B, scoring fails: 60 known cards get their batch prediction, 20 new cards the prior.
  fault.failing = true;
  const newCards = Array.from({ length: 20 }, (_, i) => `${prefix}new-${i}`);
  const stageBCards = [...cards.slice(0, 60), ...newCards];
  const baseB = START + 20 * MINUTE;
  const b = await runStage(Array.from({ length: 800 }, (_, i) => payment(stageBCards[i % 80]!, baseB + i * 200, 10_000 + i)));
  for (const row of b.rows) {
    const batch = batchProbability.get(row.cardId);
    if (batch === undefined) {
      assert.deepEqual([row.source, row.model, row.modelVersion, row.probability], ['fallback', 'prior', '', FALLBACK_PROBABILITY], row.cardId);
    } else {
      assert.deepEqual([row.source, row.model, row.modelVersion], ['batch', `fraud-lr@${live.version}`, live.version], row.cardId);
      assert.ok(Math.abs(row.probability - batch) < 1e-6, `${row.cardId}: the batch prediction`);
    }
  }
  assert.equal(new Set(b.rows.filter((row) => row.source === 'batch').map((row) => row.cardId)).size, 60);
  const windowEndsB = new Set(b.expected.map((f) => `${f.cardId}|${f.windowEnd}`));
  await waitFor('stage B on the WebSocket', async () => received.filter((m) => windowEndsB.has(`${m.cardId}|${m.windowEnd}`)).length, (n) => n >= b.expected.length, 20_000);
  const pushedB = received.filter((m) => windowEndsB.has(`${m.cardId}|${m.windowEnd}`));
  assert.ok(pushedB.every((m) => m.source === (batchProbability.has(m.cardId) ? 'batch' : 'fallback')), 'the WebSocket says where each score came from');

  // Stage C, recovered: after the cool-down the probe succeeds and the model scores every window again.
  fault.failing = false;
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  const baseC = START + 40 * MINUTE;
  const c = await runStage(Array.from({ length: 800 }, (_, i) => payment(stageBCards[i % 80]!, baseC + i * 200, 20_000 + i)));
  const byWindow = new Map(c.expected.map((f) => [`${f.cardId}|${f.windowEnd}`, f]));
  for (const row of c.rows) {
    assert.equal(row.source, 'model', row.cardId);
    assert.ok(Math.abs(row.probability - referenceProbability(shipped, byWindow.get(`${row.cardId}|${row.windowEnd}`)!)) < 1e-5);
  }
  console.log(`[fallback] stage A ${a.rows.length} model, stage B ${b.rows.filter((r) => r.source === 'batch').length} batch + ${b.rows.filter((r) => r.source === 'fallback').length} prior, stage C ${c.rows.length} model; batch job ${run.entities} entities in ${run.seconds.toFixed(2)} s`);
});
