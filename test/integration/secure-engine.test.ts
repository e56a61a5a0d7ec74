import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { createAvroEncoder } from '../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import { clickhouseModelRegistry } from '../../src/registry/clickhouse-model-registry.ts';
import { referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { assertExactCardFraudResults, waitForCardFraudResults } from '../helpers/fault-run.ts';
import { startEngineProcess, type EngineProcess } from '../helpers/engine-process.ts';
import { secureServices, type SecureServices } from '../helpers/secure-services.ts';
import { assertNoSecrets, baseEnv, knownSecrets, runCli, secureClickHouse, secureEnv, secureKafka, secureRedis, type CliRun } from '../helpers/secure-env.ts';
import { queryRows, SCHEMAS_DIR, uniqueName, waitFor } from '../helpers/services.ts';
import { freePort } from '../helpers/free-port.ts';

// The card-fraud topology through the real CLI on the secured services: Kafka over SASL_SSL
// (SCRAM-SHA-512, the CA from a file), durable window state and online state in the ACL Redis
// over rediss://, ClickHouse over HTTPS as tributary; every password from a *_FILE setting.
// Then the batch-side commands on what it wrote (query, backfill, score-batch, models list and
// promote) with the same settings, and no secret in anything any of them printed.

const PARTITIONS = 3;
const EVENTS = 2_400;
const START = Date.UTC(2026, 4, 4, 9, 0, 0);
const MALFORMED: Array<Buffer | null> = [Buffer.from('not avro at all'), Buffer.from([0, 0, 0, 0, 99, 2, 4]), Buffer.from([1, 2, 3]), null];

describe('card-fraud on SASL_SSL Kafka, rediss:// Redis and HTTPS ClickHouse, then the CLI commands', () => {
  let s: SecureServices;
  let ch: ClickHouseClient;
  let redis: Redis;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  const tag = uniqueName('sc');
  const prefix = `${tag}_`;
  const topic = `${tag}_payments`;
  const dlqTopic = `${tag}_payments_dlq`;
  const groupId = `${tag}_group`;
  const outputs = new Map<string, string>();
  let env: Record<string, string>;
  let engine: EngineProcess | undefined;
  // 2,400 payments of 60 cards (this test's own card ids) over 20 minutes of event time.
  const generator = new CardPaymentModel({ seed: 31, cards: 60, lateShare: 0, fraudRate: 0.01 });
  const payments: Payment[] = Array.from({ length: EVENTS }, (_, i) => {
    const payment = generator.next(START + i * 500).payment;
    return { ...payment, cardId: `${tag}-${payment.cardId}` };
  });
  const cards = [...new Set(payments.map((p) => p.cardId))].sort();
  const expected = referenceCardFeatures(payments);

  const cli = async (label: string, args: string[]): Promise<CliRun> => {
    const run = await runCli(args, { ...env, LOG_LEVEL: 'debug' });
    outputs.set(label, run.stdout + run.stderr);
    return run;
  };

  before(async () => {
    s = secureServices();
    ch = secureClickHouse(s);
    redis = secureRedis(s);
    kafka = secureKafka(s, 'SASL_SSL');
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }, { topic: dlqTopic, numPartitions: 1 }], waitForLeaders: true });
    producer = kafka.producer();
    await producer.connect();
    env = {
      ...baseEnv(),
      ...secureEnv(s, { kafka: { listener: 'SASL_SSL', mechanism: 'SCRAM-SHA-512' }, redis: { tls: true }, clickhouse: { https: true } }),
      FRAUD_TEST_TOPIC: topic,
      FRAUD_TEST_PREFIX: prefix,
      FRAUD_TEST_DLQ_TOPIC: dlqTopic,
      PORT: '0',
      TRIBUTARY_GROUP_ID: groupId,
      TRIBUTARY_WINDOW_STATE: 'redis',
      TRIBUTARY_CHECKPOINT_INTERVAL_MS: '500',
      TRIBUTARY_COMMIT_INTERVAL_MS: '300',
      LOG_LEVEL: 'debug',
    };
  });

  after(async () => {
    engine?.child.kill('SIGKILL');
    await producer?.disconnect().catch(() => {});
    await admin?.deleteTopics({ topics: [topic, dlqTopic] }).catch(() => {});
    await admin?.disconnect().catch(() => {});
    if (ch) {
      // Views before the materialized views and tables they read.
      const tables = await queryRows<{ name: string; engine: string }>(ch, `SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND startsWith(name, '${prefix}')`).catch(() => []);
      const rank = (engine: string) => (engine === 'View' ? 0 : engine === 'MaterializedView' ? 1 : 2);
      for (const { name } of tables.sort((a, b) => rank(a.engine) - rank(b.engine))) await ch.command({ query: `DROP TABLE IF EXISTS \`${name}\`` }).catch(() => {});
      await ch.close();
    }
    if (redis) {
      // SCAN, not KEYS: the tributary user may not run @dangerous commands.
      for (const pattern of [`tributary:card-fraud:*${tag}*`]) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      }
      redis.disconnect();
    }
  });

  test('the engine reads SASL_SSL Kafka (SCRAM-SHA-512), keeps window and online state in the ACL Redis over TLS, writes HTTPS ClickHouse: exact rows, dead letters on the Kafka topic, /metrics and /sql', { timeout: 300_000 }, async () => {
    engine = startEngineProcess(env);
    const running = engine;
    const engineOutput = () => running.output();
    await waitFor('the engine to start', async () => engineOutput(), (text) => /Tributary card-fraud is running/.test(text) || running.child.exitCode !== null, 120_000);
    assert.match(engineOutput(), /Tributary card-fraud is running/, engineOutput().slice(-3000));
    assert.match(engineOutput(), /starting card-fraud: Kafka at 127\.0\.0\.1:\d+ \(SASL_SSL, SCRAM-SHA-512 as tributary\); ClickHouse at https:\/\/127\.0\.0\.1:\d+\/tributary_analytics as tributary; Redis at rediss:\/\/127\.0\.0\.1:\d+ as tributary/);

    const encoder = createAvroEncoder<Payment>({ wire: 'confluent', registry: LocalSchemaRegistry.fromDirectory(SCHEMAS_DIR), schema: 'payment.avsc' });
    for (let i = 0; i < payments.length; i += 500) {
      await producer.send({ topic, messages: payments.slice(i, i + 500).map((p) => ({ key: p.cardId, value: encoder.encode(p) })) });
    }
    const [sent] = await producer.send({ topic, messages: MALFORMED.map((value) => ({ key: `${tag}-malformed`, value, partition: 0 })) });
    const malformedOffsets = MALFORMED.map((_, i) => String(Number(sent!.baseOffset) + i));
    // One event per partition ten minutes after the last payment closes every window.
    const maxTs = Math.max(...payments.map((p) => p.ts));
    await producer.send({ topic, messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ key: `${tag}-watermark`, partition, value: encoder.encode({ ...payments[0]!, paymentId: `${tag}-advance-${partition}`, cardId: `${tag}-watermark-${partition}`, ts: maxTs + 600_000 }) })) });

    await waitForCardFraudResults(ch, prefix, payments, PARTITIONS, 180_000, () => engineOutput().slice(-3000));
    await assertExactCardFraudResults(ch, prefix, payments, PARTITIONS);
    const deadLetters = await waitFor('the dead letters in ClickHouse', () => queryRows<{ partition: number; offset: string; step: string }>(ch, `SELECT DISTINCT partition, offset, step FROM ${prefix}dead_letters ORDER BY toUInt64(offset)`), (rows) => rows.length >= MALFORMED.length);
    assert.deepEqual(deadLetters, malformedOffsets.map((offset) => ({ partition: 0, offset, step: 'decode' })));

    // The Kafka dead-letter topic, read back over SASL_SSL: the original bytes and their provenance.
    const consumer = kafka.consumer({ groupId: uniqueName('dlq_reader') });
    const letters: Array<{ value: Buffer | null; headers: Record<string, string> }> = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void letters.push({ value: message.value, headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])) }) });
      await waitFor('the dead letters on the Kafka topic', async () => letters.length, (n) => n >= MALFORMED.length, 60_000);
    } finally {
      await consumer.disconnect();
    }
    assert.equal(letters.length, MALFORMED.length);
    const byOffset = [...letters].sort((a, b) => Number(a.headers['tributary-offset']) - Number(b.headers['tributary-offset']));
    assert.deepEqual(byOffset.map((l) => [l.headers['tributary-topic'], l.headers['tributary-partition'], l.headers['tributary-offset'], l.headers['tributary-step'], l.headers['tributary-topology']]), malformedOffsets.map((offset) => [topic, '0', offset, 'decode', 'card-fraud']));
    assert.deepEqual(byOffset.map((l) => (l.value === null || l.value.length === 0 ? null : l.value.toString('hex'))), MALFORMED.map((v) => (v === null || v.length === 0 ? null : v.toString('hex'))));

    // Online state in the ACL Redis: each card's latest features and prediction are its last window.
    const lastWindow = new Map<string, (typeof expected)[number]>();
    for (const row of expected) if ((lastWindow.get(row.cardId)?.windowEnd ?? -1) < row.windowEnd) lastWindow.set(row.cardId, row);
    const featureKeys = cards.map((card) => `tributary:card-fraud:features:card-features:v1:${card}`);
    const stored = await waitFor('the latest features of every card in Redis', async () => (await redis.mget(...featureKeys)).map((text) => (text === null ? null : (JSON.parse(text) as { value: { windowEnd: number; count5m: number } }).value)), (values) => values.every((v, i) => v !== null && v.windowEnd === lastWindow.get(cards[i]!)!.windowEnd));
    assert.deepEqual(stored.map((v) => [v!.windowEnd, v!.count5m]), cards.map((card) => [lastWindow.get(card)!.windowEnd, lastWindow.get(card)!.count5m]));
    assert.equal((await redis.mget(...cards.map((card) => `tributary:card-fraud:prediction:card:${card}`))).filter((v) => v !== null).length, cards.length);
    // Checkpoints are saved on their own timer: the results may be in ClickHouse before the first one.
    await waitFor('a checkpoint per partition in Redis', () => Promise.all(Array.from({ length: PARTITIONS }, (_, p) => redis.hget(`tributary:card-fraud:checkpoint:${groupId}:${topic}:${p}`, 'offset'))), (offsets) => offsets.every((offset) => offset !== null && Number(offset) > 0), 30_000);

    // The engine's HTTP side: /metrics, and /sql answered over the engine's own HTTPS connection.
    const address = /Metrics: {4}(http:\/\/[\d.:]+)\/metrics/.exec(engineOutput())![1]!;
    const metrics = await (await fetch(`${address}/metrics`)).text();
    assert.match(metrics, /^tributary_dead_letters_total\{[^}]*step="decode"[^}]*\} 4$/m);
    outputs.set('/metrics', metrics);
    const sql = await fetch(`${address}/sql?format=JSONEachRow`, { method: 'POST', body: `SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments` });
    const sqlText = await sql.text();
    assert.equal(sql.status, 200, sqlText);
    assert.deepEqual(JSON.parse(sqlText), { n: String(EVENTS + PARTITIONS) });
    outputs.set('/sql', sqlText);

    running.child.kill('SIGTERM');
    assert.equal(await running.exited, 0, `clean exit on SIGTERM:\n${engineOutput().slice(-3000)}`);
    outputs.set('engine (tributary run)', engineOutput());
    engine = undefined;
  });

  test('tributary query reads the HTTPS ClickHouse directly with CLICKHOUSE_USER, CLICKHOUSE_PASSWORD_FILE and CLICKHOUSE_CA_FILE', { timeout: 120_000 }, async () => {
    // No engine answers on a free port: the command reads CLICKHOUSE_URL itself.
    const run = await cli('query', ['query', `SELECT uniqExact(_partition, _offset) AS n, uniqExact(cardId) AS cards FROM ${prefix}payments WHERE cardId NOT LIKE '%watermark%'`, '--format', 'json', '--url', `http://127.0.0.1:${await freePort()}`]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [{ n: EVENTS, cards: cards.length }]);
    assert.match(run.stderr, /reading ClickHouse at https:\/\/127\.0\.0\.1:\d+\/tributary_analytics directly/);
  });

  test('tributary backfill replays the payments from HTTPS ClickHouse into the same features', { timeout: 240_000 }, async () => {
    const minTs = Math.min(...payments.map((p) => p.ts));
    const maxTs = Math.max(...payments.map((p) => p.ts));
    const run = await cli('backfill', ['backfill', 'test/fixtures/card-fraud-from-env.ts', '--from', new Date(minTs).toISOString(), '--to', String(maxTs + 1), '--batch-size', '1000']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout + run.stderr, new RegExp(`done: ${EVENTS} events in`));
    assert.match(run.stdout + run.stderr, new RegExp(`features: ${expected.length} rows`));
    const [row] = await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}card_features FINAL WHERE origin = 'backfill'`);
    assert.equal(Number(row!.n), expected.length);
  });

  test('tributary score-batch scores every card into HTTPS ClickHouse and the rediss:// Redis', { timeout: 180_000 }, async () => {
    const run = await cli('score-batch', ['score-batch', 'test/fixtures/card-fraud-from-env.ts']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`^Scored ${cards.length} card entities with fraud-lr@`));
    const [row] = await queryRows<{ n: string }>(ch, `SELECT uniqExact(entity) AS n FROM ${prefix}batch_predictions`);
    assert.equal(Number(row!.n), cards.length);
    const values = await redis.mget(...cards.map((card) => `tributary:card-fraud:batch-prediction:${card}`));
    assert.equal(values.filter((v) => v !== null).length, cards.length, 'a batch prediction per card in Redis');
  });

  test('tributary models list and promote work on the HTTPS ClickHouse registry', { timeout: 120_000 }, async () => {
    const list = await cli('models list', ['models', 'list', 'test/fixtures/card-fraud-from-env.ts', '--format', 'json']);
    assert.equal(list.code, 0, list.stderr);
    const [live, ...others] = JSON.parse(list.stdout) as Array<{ version: string; status: string; file: string; fileSha256: string }>;
    assert.deepEqual([live!.status, others.length], ['live', 0]);
    // A candidate to promote, registered directly (training needs labels this test has none of).
    const registry = clickhouseModelRegistry(ch, { table: `${prefix}model_registry` });
    const candidate = 'c0ffee000001';
    await registry.register({ ...(JSON.parse(list.stdout)[0] as Parameters<typeof registry.register>[0]), version: candidate, fileSha256: `${candidate}${'0'.repeat(52)}`, status: 'candidate', note: 'secure test' });
    const promote = await cli('models promote', ['models', 'promote', 'test/fixtures/card-fraud-from-env.ts', candidate]);
    assert.equal(promote.code, 0, promote.stderr);
    assert.equal(promote.stdout, `fraud-lr@${candidate} is live; fraud-lr@${live!.version} retired\n`);
    const after = await cli('models list again', ['models', 'list', 'test/fixtures/card-fraud-from-env.ts', '--format', 'json']);
    assert.deepEqual((JSON.parse(after.stdout) as Array<{ version: string; status: string }>).map((v) => [v.version, v.status]).sort(), [[candidate, 'live'], [live!.version, 'retired']].sort());
  });

  test('no password and no line of a private key in any output: the engine at debug level, every command, /metrics, /sql', () => {
    const secrets = knownSecrets(s);
    assert.deepEqual([...outputs.keys()].sort(), ['/metrics', '/sql', 'backfill', 'engine (tributary run)', 'models list', 'models list again', 'models promote', 'query', 'score-batch'].sort());
    for (const [where, text] of outputs) assertNoSecrets(text, secrets, where);
    // The debug level was on: the engine logged its DDL, so the check read real log volume.
    assert.match(outputs.get('engine (tributary run)')!, /"level":20/);
  });
});
