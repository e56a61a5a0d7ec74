import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import { Engine } from '../../src/runtime/engine.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { clickhouseModelRegistry } from '../../src/registry/clickhouse-model-registry.ts';
import { sha256OfFile } from '../../src/registry/model-files.ts';
import type { ModelVersion } from '../../src/registry/model-registry.ts';
import { evaluate, predictProbability, trainLogisticRegression, type Evaluation } from '../../src/scoring/logistic-regression.ts';
import { OnnxModel } from '../../src/scoring/onnx-model.ts';
import { createAvroEncoder } from '../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import { clickhouseTable } from '../../src/sinks/clickhouse/table-sink.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { chargebacksOf, type Chargeback } from '../../src/sources/generator/chargebacks.ts';
import { generatorSource } from '../../src/sources/generator/generator-source.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import { defineTopology } from '../../src/topology/define-topology.ts';
import { runOnArray } from '../../src/topology/run-on-array.ts';
import { trainFromClickHouse } from '../../src/training/train-from-clickhouse.ts';
import { cardFeatures, FRAUD_FEATURE_NAMES, fraudFeatureVector, type CardFeatures } from '../../topologies/card-fraud-features.ts';
import { createChargebacksTopology } from '../../topologies/chargebacks.ts';
import { cardFraudLifecycle as cardLifecycle } from '../../topologies/card-fraud.ts';
import { clickhouseTargets, type ClickHouseTarget } from '../helpers/clickhouse-targets.ts';
import { engineConfig, REPO_ROOT, SCHEMAS_DIR, uniqueName, waitFor } from '../helpers/services.ts';
import { writeThroughSink } from '../helpers/sink-writes.ts';

const run = promisify(execFile);
const T0 = Date.UTC(2026, 1, 1);
const RATE = 20; // payments per second of event time, for 30 minutes
const CREATED_AT = Date.UTC(2026, 2, 1, 12);

/** Payments with their fraud flags, the chargebacks of the fraudulent ones, and the features of them all. */
const generator = new CardPaymentModel({ seed: 21, cards: 300, merchants: 50, fraudRate: 0.002, lateShare: 0 });
const generated = Array.from({ length: RATE * 60 * 30 }, (_, i) => generator.next(T0 + (i * 1000) / RATE));
const payments = generated.map((g) => g.payment);
const chargebacks = chargebacksOf(generated);
const fraudTimes = new Map<string, number[]>();
for (const { payment, fraud } of generated) if (fraud) fraudTimes.set(payment.cardId, [...(fraudTimes.get(payment.cardId) ?? []), payment.ts]);
const featureOnly = defineTopology({
  name: 'card-features-training',
  source: generatorSource<Payment>({ events: () => ({ next: () => payments[0]! }), eventTime: (p) => p.ts, eventsPerSecond: RATE, outOfOrderness: '5s' }),
  pipeline: (events) => ({ features: cardFeatures(events) }),
  sinks: {},
});
const features = runOnArray(featureOnly, payments, { batchSize: 2_000 }).then(({ outputs }) => outputs.features as CardFeatures[]);

type FeatureRow = CardFeatures & { revision: number };

/**
 * What the feature sinks wrote over time. Online: every window of version v1 (revision 1) but
 * a few, an earlier revision of some with other values (revision 0, written later: the table
 * keeps revision 1), and rows of an older feature version a day later, which training must not
 * see. A backfill: other values for some of the same windows (the online row wins) and the
 * windows missing online (the backfilled row is all there is).
 */
async function featureRows(): Promise<{ online: FeatureRow[]; backfill: FeatureRow[] }> {
  const windows = (await features).map((f) => ({ ...f, featureVersion: 'v1', revision: 1 }));
  const missingOnline = (i: number) => i % 13 === 5;
  const current = windows.filter((_, i) => !missingOnline(i));
  const stale = windows.filter((_, i) => i % 7 === 0 && !missingOnline(i)).map((f) => ({ ...f, count1m: 999, max5m: 99_999, revision: 0 }));
  const older = windows.filter((_, i) => i % 11 === 0).map((f) => ({ ...f, cardId: `v0-${f.cardId}`, windowEnd: f.windowEnd + 86_400_000, featureVersion: 'v0' }));
  const backfilled = windows.filter((_, i) => i % 5 === 0 && !missingOnline(i)).map((f) => ({ ...f, count1m: f.count1m + 1_000, revision: 2 }));
  return { online: [...current, ...older, ...stale], backfill: [...backfilled, ...windows.filter((_, i) => missingOnline(i))] };
}

for (const target of clickhouseTargets()) describe(target.label, () => trainingSuite(target));

function trainingSuite(target: ClickHouseTarget): void {
  const server = target.label.includes('CLICKHOUSE_URL');
  const prefix = `train_${randomBytes(5).toString('hex')}_`;
  const spec = cardLifecycle(prefix);
  let client: ClickHouseClient;
  let directory: string;

  before(async () => {
    client = await target.connect();
    directory = await mkdtemp(join(tmpdir(), 'tributary-train-'));
    // The feature table exactly as topologies/card-fraud.ts declares it.
    const featureSink = clickhouseTable<FeatureRow>(spec.featuresTable, { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', versionColumn: 'revision', origin: true });
    const { online, backfill } = await featureRows();
    await writeThroughSink(featureSink, client, online, (f) => f.windowEnd);
    await writeThroughSink(featureSink, client, backfill, (f) => f.windowEnd, 'backfill');
    // On the server the labels take the real path: a Kafka topic, the chargebacks topology, its sink.
    if (server) await chargebacksThroughKafka(prefix);
    else await writeThroughSink(createChargebacksTopology({ tablePrefix: prefix }).sinks.raw![0]!, client, chargebacks, (c) => c.reportedAt);
  });

  after(async () => {
    if (client) {
      for (const table of [spec.featuresTable, spec.labels.table, spec.registryTable!, spec.baselinesTable!, `${prefix}dead_letters`]) await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
      await client.close();
    }
    await rm(directory, { recursive: true, force: true });
    await target.cleanup?.();
  });

  test('trains on the v1 rows and the chargebacks, writes the ONNX file and registers a candidate with exactly the metrics of an independent fit', async (t) => {
    const expected = await independentFit(client, prefix, {});
    t.diagnostic(`${expected.rows} rows; train ${expected.train.rows} (${expected.train.positives} positive), holdout ${expected.holdout.rows} (${expected.holdout.positives} positive), AUC ${expected.holdout.auc}`);
    assert.ok(expected.train.positives > 10 && expected.holdout.positives > 3, 'both sides of the split have fraud');

    const summary = await trainFromClickHouse(client, spec, { directory, createdAt: CREATED_AT });
    assert.deepEqual(summary.train, expected.train);
    assert.deepEqual(summary.holdout, expected.holdout);
    assert.equal(summary.duplicates, (await features).filter((_, i) => i % 5 === 0 && i % 13 !== 5).length, 'FINAL left one row per window and origin; the online one was kept');
    assert.equal(summary.labelEvents, chargebacks.length);

    const sha = await sha256OfFile(summary.path);
    const registered = await clickhouseModelRegistry(client, { table: spec.registryTable }).get('fraud-lr', sha.slice(0, 12));
    assert.deepEqual(registered, {
      model: 'fraud-lr', version: sha.slice(0, 12), fileSha256: sha, file: `fraud-lr-${sha.slice(0, 12)}.onnx`, featureSet: 'card-features', featureVersion: 'v1',
      trainedFrom: expected.firstWindowEnd, trainedTo: expected.lastWindowEnd, metrics: metricsOf(expected.holdout), createdAt: CREATED_AT,
      status: 'candidate', canaryPercent: 0, note: `trained on ${expected.rows} rows of ${spec.featuresTable}`, updatedAt: registered!.updatedAt,
    } satisfies ModelVersion);
    assert.deepEqual(summary.registered, registered);
    assert.equal(summary.path, join(directory, registered!.file));

    // The file is the fitted model: its scores are the fit's probabilities (float32 inside ONNX).
    const onnx = await OnnxModel.load(summary.path);
    assert.deepEqual(onnx.featureNames, [...FRAUD_FEATURE_NAMES]);
    const sample = expected.holdoutVectors.slice(0, 200);
    const scores = await onnx.score(new Float32Array(sample.flat()), sample.length);
    await onnx.close();
    sample.forEach((vector, i) => assert.ok(Math.abs(scores[i]! - predictProbability(expected.model, vector)) < 1e-5));
    const card = JSON.parse(await readFile(summary.path.replace(/\.onnx$/, '.json'), 'utf8')) as { metrics: { holdout: Evaluation }; baseline: { rows: number; features: Array<{ name: string; edges: number[]; counts: number[] }> } };
    assert.deepEqual(card.metrics.holdout, expected.holdout);

    // The drift baseline, stored with the version and in the sidecar: every input's deciles over
    // all rows (as computed here) and the score's, counting every row once.
    const stored = await (await client.query({ query: `SELECT feature, edges, counts, rows, source FROM ${spec.baselinesTable} WHERE version = '${registered!.version}' ORDER BY position`, format: 'JSONEachRow' })).json<{ feature: string; edges: number[]; counts: Array<string | number>; rows: string | number; source: string }>();
    assert.deepEqual(stored.map((h) => [h.feature, h.source, Number(h.rows)]), [...FRAUD_FEATURE_NAMES, 'score'].map((name) => [name, 'training', expected.rows]));
    FRAUD_FEATURE_NAMES.forEach((name, j) => {
      const sorted = expected.vectors.map((v) => Math.fround(v[j]!)).sort((a, b) => a - b);
      const edges = [...new Set(Array.from({ length: 9 }, (_, i) => sorted[Math.ceil(((i + 1) * sorted.length) / 10) - 1]!))];
      const counts = new Array<number>(edges.length + 1).fill(0);
      for (const value of sorted) counts[edges.filter((edge) => edge < value).length]!++;
      assert.deepEqual([stored[j]!.edges, stored[j]!.counts.map(Number)], [edges, counts], `${name}'s baseline`);
    });
    assert.equal(stored[6]!.counts.map(Number).reduce((a, b) => a + b, 0), expected.rows);
    assert.deepEqual(card.baseline.features.map((f) => [f.name, f.edges, f.counts]), stored.map((h) => [h.feature, h.edges, h.counts.map(Number)]));

    // The same data again: the same bytes, so the same version, and no second registration.
    const again = await trainFromClickHouse(client, spec, { directory, createdAt: CREATED_AT + 1 });
    assert.deepEqual([again.version, again.alreadyRegistered, again.registered], [registered!.version, true, registered]);
  });

  if (server) {
    test('tributary train and tributary models as child processes: a range, the registry listing, promote, canary, rollback', async () => {
      const env = { ...process.env, LIFECYCLE_TEST_PREFIX: prefix, TRIBUTARY_MODEL_DIR: directory, LOG_LEVEL: 'warn' };
      const cli = async (...args: string[]) => (await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO_ROOT, env })).stdout;
      const topology = 'test/fixtures/lifecycle-topology.ts';
      const from = T0 + 10 * 60_000;
      const trained = JSON.parse(await cli('train', topology, '--from', new Date(from).toISOString(), '--l2', '0.01', '--format', 'json')) as { version: string; registered: ModelVersion };
      const expected = await independentFit(client, prefix, { from, l2: 0.01 });
      assert.deepEqual(trained.registered.metrics, metricsOf(expected.holdout));
      assert.deepEqual([trained.registered.trainedFrom, trained.registered.trainedTo, trained.registered.status], [expected.firstWindowEnd, expected.lastWindowEnd, 'candidate']);
      assert.equal(await sha256OfFile(join(directory, trained.registered.file)), trained.registered.fileSha256);

      const listed = JSON.parse(await cli('models', 'list', topology, '--format', 'json')) as ModelVersion[];
      assert.equal(listed.length, 2);
      assert.deepEqual(listed.find((v) => v.version === trained.version), trained.registered);

      const other = listed.find((v) => v.version !== trained.version)!.version;
      assert.equal(await cli('models', 'promote', topology, other.slice(0, 6)), `fraud-lr@${other} is live\n`);
      assert.equal(await cli('models', 'canary', topology, trained.version, '--percent', '10'), `fraud-lr@${trained.version} is canary for 10% of keys next to live fraud-lr@${other}\n`);
      const table = await cli('models', 'list', topology);
      assert.match(table, new RegExp(`^${trained.version}\\s+canary\\s+10\\s+card-features@v1\\s`, 'm'));
      assert.equal(await cli('models', 'rollback', topology), `rolled back: canary ${trained.version} stopped, fraud-lr@${trained.version} is a candidate again; fraud-lr@${other} stays live\n`);
      await assert.rejects(cli('models', 'rollback', topology), (error: { code?: number; stderr?: string }) => error.code === 1 && error.stderr!.includes(`tributary: nothing to roll back: fraud-lr@${other} is the first version that was live`));
      await assert.rejects(cli('models', 'canary', topology, trained.version, '--percent', '150'), (error: { code?: number; stderr?: string }) => error.code === 1 && error.stderr!.includes('"percent": 150 is not a canary share'));
    });
  }
}

function metricsOf(e: Evaluation): ModelVersion['metrics'] {
  return { auc: e.auc, logLoss: e.logLoss, rows: e.rows, positives: e.positives };
}

/**
 * The fit computed here, from the same rows: the v1 windows read back with their own query
 * (the online row, else the backfilled one, at its latest revision: argMax, not FINAL), labelled from the generator's own fraud flags, split
 * at 75% of the time range, fitted and evaluated.
 */
async function independentFit(client: ClickHouseClient, prefix: string, options: { from?: number; l2?: number }) {
  const latest = (column: string) => `argMax(${column}, (origin = 'online', revision))`;
  const rows = await (await client.query({
    query: `SELECT cardId, windowEnd, ${latest('count1m')} AS c1, ${latest('sum1m')} AS s1, ${latest('max1m')} AS m1, ${latest('count5m')} AS c5, ${latest('sum5m')} AS s5, ${latest('max5m')} AS m5
            FROM ${prefix}card_features WHERE featureVersion = 'v1' ${options.from === undefined ? '' : `AND windowEnd >= ${options.from}`} GROUP BY cardId, windowEnd`,
    format: 'JSONEachRow',
  })).json<Record<string, string | number>>();
  const windows = rows.map((r) => ({ cardId: String(r.cardId), windowEnd: Number(r.windowEnd), count1m: Number(r.c1), sum1m: Number(r.s1), max1m: Number(r.m1), count5m: Number(r.c5), sum5m: Number(r.s5), max5m: Number(r.m5), windowStart: 0, featureVersion: 'v1' }));
  windows.sort((a, b) => a.windowEnd - b.windowEnd || (a.cardId < b.cardId ? -1 : a.cardId > b.cardId ? 1 : 0));
  const label = (f: CardFeatures) => ((fraudTimes.get(f.cardId) ?? []).some((ts) => ts >= f.windowEnd - 60_000 && ts < f.windowEnd) ? 1 : 0);
  const first = windows[0]!.windowEnd;
  const last = windows.at(-1)!.windowEnd;
  const splitAt = first + (last - first) * 0.75;
  const train = windows.filter((w) => w.windowEnd <= splitAt);
  const holdout = windows.filter((w) => w.windowEnd > splitAt);
  const model = trainLogisticRegression(train.map(fraudFeatureVector), train.map(label), { featureNames: FRAUD_FEATURE_NAMES, l2: options.l2 ?? 1e-3 });
  const holdoutVectors = holdout.map(fraudFeatureVector);
  return {
    rows: windows.length, firstWindowEnd: first, lastWindowEnd: last, model, holdoutVectors, vectors: windows.map(fraudFeatureVector),
    train: evaluate(model, train.map(fraudFeatureVector), train.map(label)),
    holdout: evaluate(model, holdoutVectors, holdout.map(label)),
  };
}

/** Produces the chargebacks (and one undecodable record) to a fresh topic and runs the chargebacks topology until they are stored. */
async function chargebacksThroughKafka(prefix: string): Promise<void> {
  const config = engineConfig();
  const topic = uniqueName('chargebacks');
  const kafka = createKafkajsClient({ brokers: config.kafkaBrokers!, clientId: `test-${topic}`, logger: silentLogger });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  await admin.createTopic(topic, { partitions: 2 });
  await producer.connect();
  const encoder = createAvroEncoder<Chargeback>({ wire: 'confluent', registry: LocalSchemaRegistry.fromDirectory(SCHEMAS_DIR), schema: 'chargeback.avsc' });
  await producer.send(topic, chargebacks.map((c) => ({ key: c.cardId, value: encoder.encode(c) })));
  await producer.send(topic, [{ key: 'garbage', value: Buffer.from('not a chargeback') }]);
  const engine = await Engine.start(createChargebacksTopology({ topic, tablePrefix: prefix }), { config, logger: silentLogger, push: false });
  try {
    const ch = await engine.environment.sinkEnvironment.clickhouse();
    const count = async (query: string) => Number((await (await ch.query({ query, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);
    await waitFor('chargebacks in ClickHouse', () => count(`SELECT count() AS n FROM ${prefix}chargebacks FINAL`), (n) => n >= chargebacks.length, 60_000);
    await waitFor('the dead letter', () => count(`SELECT count() AS n FROM ${prefix}dead_letters WHERE topology = 'chargebacks' AND step = 'decode'`), (n) => n >= 1, 30_000);
    assert.equal(await count(`SELECT count() AS n FROM ${prefix}chargebacks FINAL`), chargebacks.length);
    const stored = await (await ch.query({ query: `SELECT chargebackId, paymentId, cardId, paymentTs, reportedAt, reason FROM ${prefix}chargebacks ORDER BY chargebackId`, format: 'JSONEachRow' })).json<Record<string, unknown>>();
    const byId = (a: Chargeback, b: Chargeback) => (a.chargebackId < b.chargebackId ? -1 : 1);
    assert.deepEqual(stored.map((c) => ({ ...c, paymentTs: Number(c.paymentTs), reportedAt: Number(c.reportedAt) })), [...chargebacks].sort(byId));
  } finally {
    await engine.stop();
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}
