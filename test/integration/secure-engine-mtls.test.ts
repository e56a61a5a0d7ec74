import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClickHouseClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { createAvroEncoder } from '../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import { assertExactCardFraudResults, waitForCardFraudResults } from '../helpers/fault-run.ts';
import { referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { startEngineProcess } from '../helpers/engine-process.ts';
import { secureServices, type SecureServices } from '../helpers/secure-services.ts';
import { assertNoSecrets, baseEnv, knownSecrets, secureClickHouse, secureEnv, secureKafka } from '../helpers/secure-env.ts';
import { queryRows, SCHEMAS_DIR, uniqueName, waitFor } from '../helpers/services.ts';

// The other ways in: Kafka over mutual TLS (the SSL listener, the client certificate as the
// identity), Redis over plain TCP with an ACL user, ClickHouse over HTTP with a password; and a
// Kafka-fed lookup table (kafkaTable) next to the source over SASL_PLAINTEXT with SCRAM-SHA-256.

const PARTITIONS = 3;

async function dropPrefixed(ch: ClickHouseClient, prefix: string): Promise<void> {
  const tables = await queryRows<{ name: string; engine: string }>(ch, `SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND startsWith(name, '${prefix}')`).catch(() => []);
  const rank = (engine: string) => (engine === 'View' ? 0 : engine === 'MaterializedView' ? 1 : 2);
  for (const { name } of tables.sort((a, b) => rank(a.engine) - rank(b.engine))) await ch.command({ query: `DROP TABLE IF EXISTS \`${name}\`` }).catch(() => {});
}

async function createTopics(kafka: Kafka, topics: Array<{ topic: string; numPartitions: number; configEntries?: Array<{ name: string; value: string }> }>): Promise<() => Promise<void>> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics, waitForLeaders: true });
  return async () => {
    await admin.deleteTopics({ topics: topics.map((t) => t.topic) }).catch(() => {});
    await admin.disconnect();
  };
}

function plainRedis(s: SecureServices): Redis {
  return new Redis(s.redis.url, { username: s.redis.tributary.name, password: s.redis.tributary.password(), maxRetriesPerRequest: 1 });
}

test('card-fraud over mutual TLS (SSL listener, client certificate and key from files), the ACL Redis over plain TCP, ClickHouse over HTTP with a password file', { timeout: 300_000 }, async (t) => {
  const s = secureServices();
  const tag = uniqueName('mt');
  const prefix = `${tag}_`;
  const topic = `${tag}_payments`;
  const groupId = `${tag}_group`;
  const kafka = secureKafka(s, 'SSL');
  const ch = secureClickHouse(s);
  const redis = plainRedis(s);
  const dropTopics = await createTopics(kafka, [{ topic, numPartitions: PARTITIONS }]);
  const env: Record<string, string> = {
    ...baseEnv(),
    ...secureEnv(s, { kafka: { listener: 'SSL' }, redis: { tls: false }, clickhouse: { https: false } }),
    FRAUD_TEST_TOPIC: topic,
    FRAUD_TEST_PREFIX: prefix,
    PORT: '0',
    TRIBUTARY_GROUP_ID: groupId,
    TRIBUTARY_WINDOW_STATE: 'redis',
    TRIBUTARY_CHECKPOINT_INTERVAL_MS: '500',
    TRIBUTARY_COMMIT_INTERVAL_MS: '300',
    LOG_LEVEL: 'debug',
  };
  assert.equal(env.CLICKHOUSE_URL, `${s.clickhouse.url}/${s.clickhouse.analyticsDatabase}`);
  assert.ok(env.KAFKA_SSL_KEY_FILE !== undefined && !('KAFKA_SASL_USERNAME' in env));
  const engine = startEngineProcess(env);
  const producer = kafka.producer();
  t.after(async () => {
    engine.child.kill('SIGKILL');
    await producer.disconnect().catch(() => {});
    await dropTopics();
    await dropPrefixed(ch, prefix);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `tributary:card-fraud:*${tag}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
    await ch.close();
  });

  const generator = new CardPaymentModel({ seed: 37, cards: 40, lateShare: 0, fraudRate: 0.01 });
  const payments: Payment[] = Array.from({ length: 1_200 }, (_, i) => {
    const payment = generator.next(Date.UTC(2026, 4, 5, 9, 0, 0) + i * 800).payment;
    return { ...payment, cardId: `${tag}-${payment.cardId}` };
  });
  const encoder = createAvroEncoder<Payment>({ wire: 'confluent', registry: LocalSchemaRegistry.fromDirectory(SCHEMAS_DIR), schema: 'payment.avsc' });
  await producer.connect();
  await producer.send({ topic, messages: payments.map((p) => ({ key: p.cardId, value: encoder.encode(p) })) });
  const maxTs = Math.max(...payments.map((p) => p.ts));
  await producer.send({ topic, messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, value: encoder.encode({ ...payments[0]!, paymentId: `${tag}-advance-${partition}`, cardId: `${tag}-watermark-${partition}`, ts: maxTs + 600_000 }) })) });

  await waitForCardFraudResults(ch, prefix, payments, PARTITIONS, 180_000, () => engine.output().slice(-3000));
  await assertExactCardFraudResults(ch, prefix, payments, PARTITIONS);
  assert.match(engine.output(), /Kafka at 127\.0\.0\.1:\d+ \(SSL\); ClickHouse at http:\/\/127\.0\.0\.1:\d+\/tributary_analytics as tributary; Redis at redis:\/\/127\.0\.0\.1:\d+ as tributary/);
  const cards = [...new Set(payments.map((p) => p.cardId))];
  const lastWindowEnd = new Map<string, number>();
  for (const row of referenceCardFeatures(payments)) lastWindowEnd.set(row.cardId, Math.max(lastWindowEnd.get(row.cardId) ?? 0, row.windowEnd));
  const stored = await waitFor('the latest features of every card in Redis', async () => (await redis.mget(...cards.map((card) => `tributary:card-fraud:features:card-features:v1:${card}`))).map((text) => (text === null ? null : (JSON.parse(text) as { value: { windowEnd: number } }).value.windowEnd)), (ends) => ends.every((end, i) => end === lastWindowEnd.get(cards[i]!)));
  assert.deepEqual(stored, cards.map((card) => lastWindowEnd.get(card)));
  // Checkpoints are saved on their own timer: the results may be in ClickHouse before the first one.
  await waitFor('a checkpoint per partition in Redis', () => Promise.all(Array.from({ length: PARTITIONS }, (_, p) => redis.hget(`tributary:card-fraud:checkpoint:${groupId}:${topic}:${p}`, 'offset'))), (offsets) => offsets.every((offset) => offset !== null && Number(offset) > 0), 30_000);

  engine.child.kill('SIGTERM');
  assert.equal(await engine.exited, 0, engine.output().slice(-3000));
  assertNoSecrets(engine.output(), knownSecrets(s), 'the engine output');
});

test('a Kafka table (kafkaTable) and the source over SASL_PLAINTEXT with SCRAM-SHA-256: payments joined with authorizations and enriched from the merchants topic, in HTTPS ClickHouse', { timeout: 240_000 }, async (t) => {
  const s = secureServices();
  const tag = uniqueName('kt');
  const prefix = `${tag}_`;
  const topic = `${tag}_events`;
  const merchantsTopic = `${tag}_merchants`;
  const kafka = secureKafka(s, 'SASL_PLAINTEXT', 'SCRAM-SHA-256');
  const ch = secureClickHouse(s);
  const dropTopics = await createTopics(kafka, [{ topic, numPartitions: 1 }, { topic: merchantsTopic, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]);
  const producer = kafka.producer();
  await producer.connect();
  let engine: ReturnType<typeof startEngineProcess> | undefined;
  t.after(async () => {
    engine?.child.kill('SIGKILL');
    await producer.disconnect().catch(() => {});
    await dropTopics();
    await dropPrefixed(ch, prefix);
    await ch.close();
  });

  // The table's topic before the engine starts: m1 high, m2 low (then m1 updated to high again).
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  await producer.send({ topic: merchantsTopic, messages: [
    { key: 'm1', value: json({ merchantId: 'm1', name: 'One', riskTier: 'medium' }) },
    { key: 'm2', value: json({ merchantId: 'm2', name: 'Two', riskTier: 'low' }) },
    { key: 'm1', value: json({ merchantId: 'm1', name: 'One', riskTier: 'high' }) },
  ] });
  engine = startEngineProcess({
    ...baseEnv(),
    ...secureEnv(s, { kafka: { listener: 'SASL_PLAINTEXT', mechanism: 'SCRAM-SHA-256' }, clickhouse: { https: true } }),
    PA_TEST_TOPIC: topic,
    PA_TEST_MERCHANTS_TOPIC: merchantsTopic,
    PA_TEST_PREFIX: prefix,
    PORT: '0',
    TRIBUTARY_GROUP_ID: `${tag}_group`,
    LOG_LEVEL: 'debug',
  }, 'test/fixtures/payment-authorizations-from-env.ts');
  const running = engine;
  await waitFor('the engine to start', async () => running.output(), (text) => /is running/.test(text) || running.child.exitCode !== null, 120_000);
  assert.match(running.output(), /table merchants caught up with/, running.output().slice(-3000));

  const T0 = Date.UTC(2026, 4, 6, 12, 0, 0);
  const pay = (id: string, s: number, merchantId: string) => ({ type: 'payment', paymentId: id, ts: T0 + s * 1000, cardId: `c-${id}`, merchantId, amount: 10 });
  const auth = (id: string, s: number) => ({ type: 'authorization', paymentId: id, ts: T0 + s * 1000, authorizationCode: `A-${id}` });
  const events = [pay('p1', 0, 'm1'), pay('p2', 1, 'm2'), auth('p1', 5), pay('p3', 6, 'm9'), auth('p2', 8), auth('p3', 9)];
  await producer.send({ topic, messages: events.map((e) => ({ key: e.paymentId, value: json(e) })) });

  const table = `${prefix}payment_authorizations`;
  const rows = await waitFor('the joined rows', () => queryRows<{ paymentId: string; authorizationCode: string; merchantRiskTier: string; latencyMs: string }>(ch, `SELECT paymentId, authorizationCode, merchantRiskTier, latencyMs FROM ${table} ORDER BY paymentId`), (r) => r.length >= 3, 90_000);
  assert.deepEqual(rows.map((r) => [r.paymentId, r.authorizationCode, r.merchantRiskTier, Number(r.latencyMs)]), [['p1', 'A-p1', 'high', 5_000], ['p2', 'A-p2', 'low', 7_000], ['p3', 'A-p3', 'unknown', 3_000]]);

  running.child.kill('SIGTERM');
  assert.equal(await running.exited, 0, running.output().slice(-3000));
  assert.match(running.output(), /starting payment-authorizations: Kafka at 127\.0\.0\.1:\d+ \(SASL_PLAINTEXT, SCRAM-SHA-256 as tributary\)/);
  assertNoSecrets(running.output(), knownSecrets(s), 'the engine output');
});
