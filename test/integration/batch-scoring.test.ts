import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { scoreBatch } from '../../src/batch/batch-scoring.ts';
import type { BatchPrediction } from '../../src/tables/batch-predictions-table.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { clickhouseModelRegistry } from '../../src/registry/clickhouse-model-registry.ts';
import { bootstrapLive } from '../../src/registry/lifecycle.ts';
import { predictProbability, type LogisticRegressionModel } from '../../src/scoring/logistic-regression.ts';
import { OnnxModel } from '../../src/scoring/onnx-model.ts';
import { clickhouseTable } from '../../src/sinks/clickhouse/table-sink.ts';
import type { SinkEnvironment } from '../../src/sinks/sink.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { generatorSource } from '../../src/sources/generator/generator-source.ts';
import { RedisKeyValueStore } from '../../src/state/redis-store.ts';
import { batchPredictionTable } from '../../src/tables/clickhouse-table-source.ts';
import { defineTopology } from '../../src/topology/define-topology.ts';
import type { LifecycleSpec } from '../../src/features/lifecycle-spec.ts';
import { cardFraudLifecycle } from '../../topologies/card-fraud.ts';
import { runOnArray } from '../../src/topology/run-on-array.ts';
import { DEFAULT_MODEL_PATH } from '../../topologies/card-fraud.ts';
import { CARD_FEATURES, type CardFeatures } from '../../topologies/card-fraud-features.ts';
import { referenceFraudVector } from '../helpers/fraud-reference.ts';
import { clickhouseTargets } from '../helpers/clickhouse-targets.ts';
import { REPO_ROOT, SCHEMAS_DIR, requireService, uniqueName, waitFor } from '../helpers/services.ts';

/**
 * The batch side of "fallback to batch" on ClickHouse 18.16 (CLICKHOUSE_URL) and embedded chDB,
 * with Redis: card_features rows from the real feature definition, scored by score-batch, must
 * give exactly one prediction per card, equal to the model's probability for the card's latest
 * window (computed here independently), in ClickHouse, in Redis and in the engine's lookup table.
 */
type Row = CardFeatures & { revision: number };
const START = Date.UTC(2026, 0, 10, 9); // event time of the payments
const T1 = Date.UTC(2026, 1, 1, 12); // scoredAt of the first run
const T2 = T1 + 3_600_000;
const MODEL_VERSION = JSON.parse(readFileSync(DEFAULT_MODEL_PATH.replace(/\.onnx$/, '.json'), 'utf8')) as { version: string; coefficients: Omit<LogisticRegressionModel, 'featureNames'> };

/** Feature rows of 16 minutes of payments: phase 1 (windows up to minute 12), then phase 2. */
async function featureRows(): Promise<{ phase1: Row[]; phase2: Row[] }> {
  const generator = new CardPaymentModel({ seed: 5, cards: 300, lateShare: 0, fraudRate: 0.02 });
  const payments: Payment[] = [];
  for (let i = 0; i < 16 * 60 * 6; i++) payments.push(generator.next(START + i * 166).payment);
  const topology = defineTopology({
    name: 'batch-scoring-features',
    source: generatorSource<Payment>({ events: () => ({ next: () => payments[0]! }), eventTime: (p) => p.ts, eventsPerSecond: 6 }),
    pipeline: (events) => ({ features: CARD_FEATURES.compute(events) }),
    sinks: {},
  });
  const rows = ((await runOnArray(topology, payments)).outputs.features as CardFeatures[]).map((f) => ({ ...f, revision: 0 }));
  const cut = START + 12 * 60_000;
  const phase1 = rows.filter((r) => r.windowEnd <= cut);
  // A later revision of some cards' latest window (FINAL must pick it), and rows of an older
  // feature version with later windows (the version filter must skip them).
  for (const row of latestPerCard(phase1).filter((_, i) => i % 7 === 0)) phase1.push({ ...row, count1m: row.count1m + 3, sum1m: row.sum1m + 500, max1m: row.max1m + 400, revision: 1 });
  for (const row of latestPerCard(phase1).filter((_, i) => i % 5 === 0)) phase1.push({ ...row, windowEnd: row.windowEnd + 86_400_000, featureVersion: 'v0' });
  return { phase1, phase2: rows.filter((r) => r.windowEnd > cut) };
}

/** Plain loop: per card, the v1 row with the latest windowEnd, then the highest revision. */
function latestPerCard(rows: readonly Row[]): Row[] {
  const latest = new Map<string, Row>();
  for (const row of rows) {
    if (row.featureVersion !== CARD_FEATURES.version) continue;
    const seen = latest.get(row.cardId);
    if (!seen || row.windowEnd > seen.windowEnd || (row.windowEnd === seen.windowEnd && row.revision > seen.revision)) latest.set(row.cardId, row);
  }
  return [...latest.values()].sort((a, b) => (a.cardId < b.cardId ? -1 : 1));
}

/** The model's probability for each card's latest row, scored here one call per row. */
async function expected(model: OnnxModel, rows: readonly Row[], scoredAt: number): Promise<Map<string, BatchPrediction>> {
  const out = new Map<string, BatchPrediction>();
  for (const row of latestPerCard(rows)) {
    const vector = referenceFraudVector(row);
    const [probability] = await model.score(Float32Array.from(vector), 1);
    // The coefficients in float64 agree to float32 precision: the ONNX file is that regression.
    assert.ok(Math.abs(probability! - predictProbability({ ...MODEL_VERSION.coefficients, featureNames: [] }, vector)) < 1e-5);
    out.set(row.cardId, { probability: probability!, model: `fraud-lr@${MODEL_VERSION.version}`, modelVersion: MODEL_VERSION.version, featureVersion: 'v1', asOf: row.windowEnd, scoredAt });
  }
  return out;
}

/** The card-fraud lifecycle on the test's tables (`<prefix>_card_features`, ...). */
function lifecycleOf(prefix: string): LifecycleSpec {
  return cardFraudLifecycle(`${prefix}_`);
}

/** Writes rows through the topology's own card_features sink (ReplacingMergeTree(revision), origin). */
async function writeFeatures(client: ClickHouseClient, table: string, rows: readonly Row[]): Promise<void> {
  const env: SinkEnvironment = {
    topology: 'batch-scoring', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client, schemasDir: SCHEMAS_DIR, fail: () => undefined,
    state: () => Promise.reject(new Error('no state store here')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('no Kafka here')),
  };
  const sink = clickhouseTable<Row>(table, { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', versionColumn: 'revision', origin: true }).create(env);
  await sink.open();
  sink.write(rows.map((value) => ({ value, key: value.cardId, eventTime: value.windowEnd, topic: '', partition: -1, offset: '' })), []);
  await sink.flush();
  await sink.close();
}

async function storedRows(client: ClickHouseClient, table: string) {
  const result = await client.query({ query: `SELECT entity, probability, model, modelVersion, featureVersion, asOf, scoredAt, runId FROM ${table} ORDER BY entity, scoredAt`, format: 'JSONEachRow' });
  return (await result.json<Record<string, string | number>>()).map((r) => ({
    entity: String(r.entity), runId: String(r.runId),
    // 18.16 parses JSON floats with up to one ulp of error; the score itself is a float32.
    value: { probability: Math.fround(Number(r.probability)), model: r.model, modelVersion: r.modelVersion, featureVersion: r.featureVersion, asOf: Number(r.asOf), scoredAt: Number(r.scoredAt) } as BatchPrediction,
  }));
}

async function redisValues(redis: Redis, prefix: string, cards: string[]): Promise<Map<string, unknown>> {
  const values = await redis.mget(cards.map((card) => `${prefix}batch-prediction:${card}`));
  return new Map(cards.map((card, i) => [card, values[i] === null ? undefined : JSON.parse(values[i]!)]));
}

for (const target of clickhouseTargets()) {
  describe(`batch scoring on ${target.label}`, () => {
    const prefix = uniqueName('bs');
    const lifecycle = lifecycleOf(prefix);
    const storePrefix = `tributary:${prefix}:`;
    let client: ClickHouseClient;
    let model: OnnxModel;
    let store: RedisKeyValueStore;
    let redis: Redis;
    let rows: { phase1: Row[]; phase2: Row[] };

    before(async () => {
      client = await target.connect();
      model = await OnnxModel.load(DEFAULT_MODEL_PATH);
      store = await RedisKeyValueStore.connect(requireService('REDIS_URL'), { prefix: storePrefix, logger: silentLogger });
      redis = new Redis(requireService('REDIS_URL'));
      rows = await featureRows();
      await writeFeatures(client, lifecycle.featuresTable, rows.phase1);
    });

    after(async () => {
      for (const table of [lifecycle.featuresTable, lifecycle.batchPredictionsTable]) await client?.command({ query: `DROP TABLE IF EXISTS ${table}` });
      const keys = await redis?.keys(`${storePrefix}*`);
      if (keys?.length) await redis.del(...keys);
      await Promise.all([client?.close(), model?.close(), store?.close(), redis?.quit()]);
      await target.cleanup?.();
    });

    test('one prediction per card, exactly the model on its latest window, in ClickHouse, Redis and the lookup table; a second run replaces them', async () => {
      const want1 = await expected(model, rows.phase1, T1);
      assert.ok(want1.size > 200, `${want1.size} cards`);
      const run1 = await scoreBatch({ client, store, lifecycle, model, now: T1, pageEntities: 97, chunkRows: 64 });
      assert.equal(run1.entities, want1.size);
      assert.equal(run1.skipped, 0);
      const stored = await storedRows(client, lifecycle.batchPredictionsTable);
      assert.equal(stored.length, want1.size, 'one row per card');
      assert.deepEqual(new Map(stored.map((r) => [r.entity, r.value])), want1);
      assert.ok(stored.every((r) => r.runId === run1.runId));
      assert.deepEqual(await redisValues(redis, storePrefix, [...want1.keys()]), want1);
      assert.equal((await redis.keys(`${storePrefix}batch-prediction:*`)).length, want1.size);

      // The engine's side: a lookup table filled from ClickHouse (warnings captured).
      const warnings: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
      let failing = false;
      const flaky = new Proxy(client, { get: (target, key) => (key === 'query' && failing ? () => Promise.reject(new Error('Code: 210, e.displayText() = DB::NetException: Connection refused')) : Reflect.get(target, key)) });
      const table = batchPredictionTable({ name: 'batch-predictions', table: lifecycle.batchPredictionsTable, refresh: '100ms', pageEntities: 89 });
      const running = await table.source!.start(table, { topology: prefix, logger, metrics: new Metrics(), schemasDir: SCHEMAS_DIR, groupId: prefix, clickhouse: async () => flaky });
      try {
        assert.equal(table.size, want1.size);
        for (const [card, prediction] of want1) assert.deepEqual(table.get(card), prediction, card);

        // ClickHouse fails: the refresh warns and the table keeps what it had.
        failing = true;
        await waitFor('a failed refresh', async () => warnings.length, (n) => n > 0, 20_000);
        assert.match(warnings[0]!, /refreshing table batch-predictions .* failed; keeping the predictions loaded before/);
        assert.equal(table.size, want1.size);
        failing = false;

        // New windows, a second run: the table follows within a refresh.
        await writeFeatures(client, lifecycle.featuresTable, rows.phase2);
        const want2 = await expected(model, [...rows.phase1, ...rows.phase2], T2);
        assert.ok([...want2].filter(([card, p]) => p.asOf !== want1.get(card)?.asOf).length > 50, 'the second run sees new windows');
        const run2 = await scoreBatch({ client, store, lifecycle, model, now: T2, pageEntities: 1000 });
        assert.equal(run2.entities, want2.size);
        await waitFor('the second run in the lookup table', async () => [...want2.keys()].filter((card) => table.get(card)?.scoredAt !== T2).length, (n) => n === 0, 30_000);
        for (const [card, prediction] of want2) assert.deepEqual(table.get(card), prediction, card);
        assert.equal(table.size, want2.size);
        assert.deepEqual(await redisValues(redis, storePrefix, [...want2.keys()]), want2);
        const all = await storedRows(client, lifecycle.batchPredictionsTable);
        assert.equal(all.length, want1.size + want2.size, 'each run appends one row per card');
        assert.deepEqual(new Map(all.filter((r) => r.runId === run2.runId).map((r) => [r.entity, r.value])), want2);
      } finally {
        await running.close();
      }
    });
  });
}

describe('tributary score-batch (CLI, ClickHouse 18.16 and Redis)', () => {
  const prefix = uniqueName('bs_cli');
  const topologyName = prefix.replace(/_/g, '-');
  const lifecycle = lifecycleOf(prefix);
  const env = { ...process.env, CLICKHOUSE_URL: requireService('CLICKHOUSE_URL'), REDIS_URL: requireService('REDIS_URL'), SCORE_BATCH_PREFIX: prefix, SCORE_BATCH_TOPOLOGY: topologyName, LOG_LEVEL: 'warn' };
  const cli = (topology = 'test/fixtures/score-batch-topology.ts') =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'score-batch', topology], { cwd: REPO_ROOT, env, timeout: 120_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  let client: ClickHouseClient;
  let redis: Redis;

  before(async () => {
    client = await clickhouseTargets()[0]!.connect();
    redis = new Redis(requireService('REDIS_URL'));
  });

  after(async () => {
    for (const table of [lifecycle.featuresTable, lifecycle.batchPredictionsTable, lifecycle.registryTable!]) await client?.command({ query: `DROP TABLE IF EXISTS ${table}` });
    const keys = await redis?.keys(`tributary:${topologyName}:*`);
    if (keys?.length) await redis.del(...keys);
    await Promise.all([client?.close(), redis?.quit()]);
  });

  test('without a live model it fails with the fix; with one it scores every card with it', async () => {
    const { phase1 } = await featureRows();
    await writeFeatures(client, lifecycle.featuresTable, phase1);
    const none = await cli();
    assert.equal(none.code, 1, none.stderr);
    assert.match(none.stderr, /fraud-lr has no live version in registry table .*_model_registry.*Fix: register a trained model and promote it/);

    const registry = clickhouseModelRegistry(client, { table: lifecycle.registryTable });
    const live = await bootstrapLive(registry, { model: 'fraud-lr', file: DEFAULT_MODEL_PATH, featureSet: CARD_FEATURES.name, featureVersion: CARD_FEATURES.version });
    await registry.close();
    const model = await OnnxModel.load(DEFAULT_MODEL_PATH);
    const want = await expected(model, phase1, 0);
    await model.close();
    const run = await cli();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^Scored ${want.size} card entities with fraud-lr@${live.version} on card-features@v1 in `));
    const stored = await storedRows(client, lifecycle.batchPredictionsTable);
    assert.equal(stored.length, want.size);
    const scoredAt = stored[0]!.value.scoredAt;
    assert.ok(Math.abs(scoredAt - Date.now()) < 120_000);
    for (const prediction of want.values()) prediction.scoredAt = scoredAt;
    assert.deepEqual(new Map(stored.map((r) => [r.entity, r.value])), want);
    assert.deepEqual(await redisValues(redis, `tributary:${topologyName}:`, [...want.keys()]), want);
  });
});
