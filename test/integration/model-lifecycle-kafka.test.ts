import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { clickhouseModelRegistry } from '../../src/registry/clickhouse-model-registry.ts';
import { bootstrapLive, promote, rollback, startCanary, startShadow } from '../../src/registry/lifecycle.ts';
import type { LogisticRegressionModel } from '../../src/scoring/logistic-regression.ts';
import { createCardFraudTopology, DEFAULT_MODEL_PATH } from '../../topologies/card-fraud.ts';
import { CARD_FEATURES } from '../../topologies/card-fraud-features.ts';
import { referenceCanaryBucket, referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { referenceProbability, shippedFraudModel, writeChallengerModel, type PredictionRow } from '../helpers/fraud-models.ts';
import { clickhouse, engineConfig, queryRows, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const PARTITIONS = 3;
const START = Date.UTC(2026, 10, 2, 8, 0, 0);
const MINUTE = 60_000;

function payment(cardId: string, ts: number, amount: number, n: number): Payment {
  return { paymentId: `p-${n}`, cardId, merchantId: `m-${n % 50}`, amount, currency: 'EUR', country: 'DE', ts };
}

test('served models on real Kafka and ClickHouse: a 10% canary by key hash, shadow scoring, a promotion during a steady stream scoring every window exactly once, and rollback', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig({ modelPollIntervalMs: 200 });
  const ch = clickhouse();
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS });
  const registry = clickhouseModelRegistry(ch, { table: `${prefix}model_registry` });
  await registry.open();
  const live = await bootstrapLive(registry, { model: 'fraud-lr', file: DEFAULT_MODEL_PATH, featureSet: CARD_FEATURES.name, featureVersion: CARD_FEATURES.version });
  const challenger = await writeChallengerModel();
  const candidate = await registry.register(challenger.registration);
  assert.equal(candidate.status, 'candidate');
  await startCanary(registry, 'fraud-lr', candidate.version, 10);

  const topology = createCardFraudTopology({ topic: paymentsTopic.topic, tablePrefix: prefix });
  const served = topology.models![0]!;
  const engine = await Engine.start(topology, { config, push: false, logger: process.env.TEST_LOG ? createLogger('test') : silentLogger });
  t.after(async () => {
    await engine.stop();
    await paymentsTopic.close();
    await registry.close();
    await ch.close();
  });
  const models: Record<string, LogisticRegressionModel> = { [live.version]: shippedFraudModel(), [candidate.version]: challenger.model };
  const label = (version: string) => `fraud-lr@${version}`;

  /** Sends a stage's payments and watermark events; resolves with its prediction rows once all are in ClickHouse. */
  async function runStage(payments: Payment[], chunks = 1, midway?: () => Promise<void>): Promise<{ rows: PredictionRow[]; expected: ReturnType<typeof referenceCardFeatures> }> {
    const expected = referenceCardFeatures(payments);
    const per = Math.ceil(payments.length / chunks);
    for (let i = 0; i < chunks; i++) {
      await paymentsTopic.send(payments.slice(i * per, (i + 1) * per));
      if (i === Math.floor(chunks / 2) - 1 && midway) await midway();
      if (chunks > 1) await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await paymentsTopic.sendWatermarkEvents(payments, 10 * MINUTE);
    const from = Math.min(...expected.map((f) => f.windowEnd));
    const to = Math.max(...expected.map((f) => f.windowEnd));
    const where = `cardId NOT LIKE 'watermark%' AND windowEnd BETWEEN ${from} AND ${to}`;
    await waitFor(`${expected.length} predictions`, async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}fraud_predictions WHERE ${where}`))[0]!.n), (n) => n >= expected.length, 120_000);
    const rows = await queryRows<PredictionRow>(ch, `SELECT cardId, windowEnd, probability, model, modelVersion, featureVersion, source, challengerModel, challengerProbability FROM ${prefix}fraud_predictions WHERE ${where} ORDER BY cardId, windowEnd`);
    return { rows, expected };
  }

  /** Every window exactly once (no copy at all: nothing was replayed), each probability the named model's. */
  function checkRows(rows: PredictionRow[], expected: ReturnType<typeof referenceCardFeatures>): void {
    assert.equal(rows.length, expected.length, 'one prediction row per window, none twice');
    const byWindow = new Map(expected.map((f) => [`${f.cardId}|${f.windowEnd}`, f]));
    assert.equal(new Set(rows.map((r) => `${r.cardId}|${r.windowEnd}`)).size, expected.length);
    for (const row of rows) {
      const features = byWindow.get(`${row.cardId}|${row.windowEnd}`);
      assert.ok(features, `window ${row.cardId} ${row.windowEnd} is in the reference`);
      assert.equal(row.source, 'model');
      assert.equal(row.featureVersion, CARD_FEATURES.version);
      assert.equal(row.model, label(row.modelVersion));
      assert.ok(Math.abs(row.probability - referenceProbability(models[row.modelVersion]!, features)) < 1e-5, `${row.model} scored ${row.cardId}`);
      if (row.challengerModel !== '') {
        const other = row.challengerModel.slice('fraud-lr@'.length);
        assert.notEqual(other, row.modelVersion);
        assert.ok(Math.abs(Number(row.challengerProbability) - referenceProbability(models[other]!, features)) < 1e-5, `challenger ${row.challengerModel} scored ${row.cardId}`);
      }
    }
  }

  // Stage 1, canary at 10%: 10,000 cards with one payment each (5 windows per card).
  const cards = Array.from({ length: 10_000 }, (_, i) => `${prefix}card-${i}`); // own ids: the online store (Redis) is shared with other tests
  const canaryPayments = cards.map((card, i) => payment(card, START + i * 5, 10 + (i % 90), i));
  const canary = await runStage(canaryPayments);
  checkRows(canary.rows, canary.expected);
  const servedBy = new Map<string, Set<string>>();
  for (const row of canary.rows) {
    (servedBy.get(row.cardId) ?? servedBy.set(row.cardId, new Set()).get(row.cardId)!).add(row.modelVersion);
    assert.equal(row.challengerModel, label(row.modelVersion === live.version ? candidate.version : live.version), 'both models scored every window');
  }
  assert.equal(servedBy.size, 10_000);
  let inCanary = 0;
  for (const [card, versions] of servedBy) {
    assert.equal(versions.size, 1, `every window of ${card} is served by one model`);
    const expectedVersion = referenceCanaryBucket(card) < 1_000 ? candidate.version : live.version;
    assert.equal([...versions][0], expectedVersion, `${card} follows its key hash`);
    if (expectedVersion === candidate.version) inCanary++;
  }
  const share = (inCanary / 10_000) * 100;
  console.log(`[lifecycle] canary 10%: ${inCanary} of 10,000 cards (${share.toFixed(2)}%) served by ${candidate.version}`);
  assert.ok(Math.abs(share - 10) <= 1, `canary share ${share}% within 1 point of 10%`);

  // Stage 2, shadow: every window served by the live model, the candidate's score recorded beside it.
  await startShadow(registry, 'fraud-lr', candidate.version);
  await waitFor('shadow in the engine', async () => served.current()?.candidate?.mode, (mode) => mode === 'shadow', 10_000);
  const base2 = START + 12 * MINUTE;
  const shadowPayments = Array.from({ length: 2_000 }, (_, i) => payment(cards[i % 200]!, base2 + i * 25, 5 + (i % 200), 20_000 + i));
  const shadow = await runStage(shadowPayments);
  checkRows(shadow.rows, shadow.expected);
  for (const row of shadow.rows) {
    assert.equal(row.modelVersion, live.version, 'shadow: live serves');
    assert.equal(row.challengerModel, label(candidate.version), 'shadow: candidate recorded');
  }

  // Stage 3, promotion while payments stream in: every window exactly once, by one model or the other.
  const base3 = START + 24 * MINUTE;
  const steadyPayments = Array.from({ length: 6_000 }, (_, i) => payment(cards[i % 300]!, base3 + i * 200, 5 + (i % 300), 30_000 + i));
  const steady = await runStage(steadyPayments, 20, async () => {
    await promote(registry, 'fraud-lr', candidate.version);
  });
  checkRows(steady.rows, steady.expected);
  const byVersion = new Map<string, number>();
  for (const row of steady.rows) byVersion.set(row.modelVersion, (byVersion.get(row.modelVersion) ?? 0) + 1);
  console.log(`[lifecycle] promotion mid-stream: ${steady.rows.length} windows, ${byVersion.get(live.version) ?? 0} by ${live.version}, ${byVersion.get(candidate.version) ?? 0} by ${candidate.version}`);
  assert.ok((byVersion.get(candidate.version) ?? 0) > 0, 'the promoted version serves after the promotion');
  for (const row of steady.rows) {
    // Before the promotion the shadow ran; after it the promoted version serves alone.
    if (row.modelVersion === candidate.version) assert.equal(row.challengerModel, '');
    else assert.equal(row.challengerModel, label(candidate.version));
  }
  assert.equal(served.current()?.live.version, candidate.version);
  const statuses = new Map((await registry.list('fraud-lr')).map((v) => [v.version, v.status]));
  assert.deepEqual([statuses.get(candidate.version), statuses.get(live.version)], ['live', 'retired']);

  // Stage 4, rollback: one call, and the previous live version serves again.
  await rollback(registry, 'fraud-lr');
  await waitFor('rollback in the engine', async () => served.current()?.live.version, (version) => version === live.version, 10_000);
  const base4 = START + 60 * MINUTE;
  const after = await runStage(Array.from({ length: 500 }, (_, i) => payment(cards[i % 100]!, base4 + i * 50, 20, 40_000 + i)));
  checkRows(after.rows, after.expected);
  assert.ok(after.rows.every((row) => row.modelVersion === live.version && row.challengerModel === ''));
});
