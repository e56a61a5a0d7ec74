import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { Redis } from 'ioredis';
import { Engine } from '../../src/runtime/engine.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { createAvroEncoder } from '../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { RedisCheckpointStore } from '../../src/state/redis-checkpoint-store.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { clickhouse, engineConfig, queryRows, requireService, SCHEMAS_DIR, uniqueName, waitFor } from '../helpers/services.ts';
import { assertExactCardFraudResults, waitForCardFraudResults } from '../helpers/fault-run.ts';
import { KafkaCluster } from '../helpers/kafka-cluster.ts';

const PARTITIONS = 3;
const EVENTS = 12_000;
const BAD_RECORDS = 30;
const START = Date.UTC(2026, 10, 5, 9, 0, 0);

/** The next offset the engine hands over per partition: end offset minus lag, from its own metrics (what an operator scrapes). */
async function handedOver(metrics: Metrics): Promise<Map<number, number>> {
  const ends = new Map((await metrics.partitionEndOffset.get()).values.map(({ labels, value }) => [Number(labels.partition), value]));
  const next = new Map<number, number>();
  for (const { labels, value } of (await metrics.consumerLag.get()).values) next.set(Number(labels.partition), (ends.get(Number(labels.partition)) ?? 0) - value);
  return next;
}

test('broker failover on a replicated 3-node cluster: the leader of two partitions is killed with SIGKILL while the card-fraud topology runs and restarted later; exactly N distinct raw events, features equal the reference, one prediction per window, every dead letter once in the dead-letter topic', { timeout: 600_000 }, async (t) => {
  const cluster = await KafkaCluster.start();
  // Hooks run in the order they were added: the cluster goes last (below), after the clients that
  // need it to shut down; this one only stops it when the test failed before that.
  let cleanUpRegistered = false;
  t.after(async () => {
    if (!cleanUpRegistered) await cluster.stop();
  });
  console.log(`[failover] 3-node cluster formatted and serving in ${cluster.startSeconds.toFixed(1)} s`);
  const kafka = new Kafka({ clientId: 'failover-test', brokers: cluster.brokers, logLevel: logLevel.NOTHING, retry: { initialRetryTime: 200, retries: 30, maxRetryTime: 2_000 } });
  const admin = kafka.admin();
  await admin.connect();
  const topic = uniqueName('payments');
  const deadLetterTopic = uniqueName('payments_dlq');
  // Node 1 is the preferred leader of partitions 0 and 1 and of the dead-letter topic.
  const minIsr = [{ name: 'min.insync.replicas', value: '2' }];
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic, configEntries: minIsr, replicaAssignment: [{ partition: 0, replicas: [1, 2, 3] }, { partition: 1, replicas: [1, 3, 2] }, { partition: 2, replicas: [2, 3, 1] }] },
      { topic: deadLetterTopic, configEntries: minIsr, replicaAssignment: [{ partition: 0, replicas: [1, 2, 3] }] },
    ],
  });
  const leaders = await cluster.leaders(topic);
  const victim = 1;
  const affected = [...leaders].filter(([, leader]) => leader === victim).map(([partition]) => partition);
  assert.deepEqual(affected, [0, 1], 'node 1 leads two partitions');

  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const encoder = createAvroEncoder<Payment>({ wire: 'confluent', registry: LocalSchemaRegistry.fromDirectory(SCHEMAS_DIR), schema: 'payment.avsc' });
  const generator = new CardPaymentModel({ seed: 31, cards: 300, lateShare: 0, fraudRate: 0.01 });
  const payments = Array.from({ length: EVENTS }, (_, i) => generator.next(START + i * 60).payment);
  const badValue = (i: number) => `not-avro-${i}`;
  /** Payments [from, to) keyed by card, with one undecodable record after every 400 (dead letters). */
  const send = async (from: number, to: number) => {
    for (let i = from; i < to; i += 400) {
      const messages = payments.slice(i, Math.min(to, i + 400)).map((p) => ({ key: p.cardId, value: encoder.encode(p) }));
      const bad = i / 400;
      messages.push({ key: `bad-${bad}`, value: Buffer.from(badValue(bad)) });
      await producer.send({ topic, messages });
    }
  };

  const prefix = `${uniqueName('fo')}_`;
  const groupId = uniqueName('group');
  const config = engineConfig({ kafkaBrokers: cluster.brokers, groupId, windowState: 'redis', maxInFlightRecords: 5_000, checkpointIntervalMs: 400, commitIntervalMs: 200 });
  // A 10 s idle timeout, shorter than the partitions of the killed node stay silent (8-38 s
  // measured): they must hold the watermark as unreachable or behind, not count as idle.
  const engine = await Engine.start(createCardFraudTopology({ topic, tablePrefix: prefix, deadLetterTopic, statePrefix: `${prefix}:`, idleTimeout: '10s' }), { config, logger: process.env.TEST_LOG ? createLogger('failover') : silentLogger, push: false });
  const ch = clickhouse();
  const redis = new Redis(requireService('REDIS_URL'));
  cleanUpRegistered = true;
  t.after(async () => {
    // Bounded: a failed test may leave the engine retrying; the cluster stops only after it.
    await Promise.race([engine.stop().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
    await producer.disconnect().catch(() => {});
    await redis.del(...Array.from({ length: PARTITIONS }, (_, p) => RedisCheckpointStore.keyOf('card-fraud', groupId, `${topic}:${p}`)));
    redis.disconnect();
    await admin.disconnect().catch(() => {});
    await ch.close();
    await cluster.stop();
  });

  // A third of the stream, processed while all nodes run.
  await send(0, 4_000);
  await waitFor('the first third in ClickHouse', async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}payments`))[0]!.n), (n) => n >= 3_000, 120_000);

  // SIGKILL the leader of partitions 0 and 1 while the next third is produced.
  const endsAtKill = new Map((await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, Number(high)]));
  const killedAt = performance.now();
  await cluster.killBroker(victim);
  const sending = send(4_000, 8_000);
  const newLeaders = await waitFor('new leaders for the partitions of the killed node', () => cluster.leaders(topic).catch(() => new Map<number, number>()), (now) => affected.every((p) => (now.get(p) ?? -1) >= 0 && now.get(p) !== victim), 60_000);
  const electedSeconds = (performance.now() - killedAt) / 1000;
  await waitFor('records produced after the kill flowing on both partitions', () => handedOver(engine.metrics), (next) => affected.every((p) => (next.get(p) ?? 0) > endsAtKill.get(p)!), 120_000);
  const recoverySeconds = (performance.now() - killedAt) / 1000;
  console.log(`[failover] node ${victim} killed: new leaders ${JSON.stringify([...newLeaders].filter(([p]) => affected.includes(p)))} after ${electedSeconds.toFixed(1)} s; records produced after the kill handed to the pipeline on both partitions after ${recoverySeconds.toFixed(1)} s`);
  await sending;

  // The node comes back on its data; the rest of the stream, then one event per partition that closes every window.
  await cluster.restartBroker(victim);
  await send(8_000, EVENTS);
  let maxTs = -Infinity;
  for (const p of payments) maxTs = Math.max(maxTs, p.ts);
  await producer.send({ topic, messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ key: `watermark-${partition}`, partition, value: encoder.encode({ ...payments[0]!, paymentId: `advance-${partition}`, cardId: `watermark-${partition}`, ts: maxTs + 600_000 }) })) });

  const seconds = await waitForCardFraudResults(ch, prefix, payments, PARTITIONS, 240_000, () => `engine ${JSON.stringify(engine.stats())}`);
  console.log(`[failover] every window and prediction in ClickHouse ${seconds.toFixed(1)} s after the last send`);
  await assertExactCardFraudResults(ch, prefix, payments, PARTITIONS);

  // Every dead letter in the dead-letter topic exactly once: wait for all, then a little longer for any copy.
  const letters = new Map<string, number>();
  const reader = kafka.consumer({ groupId: uniqueName('dlq-reader') });
  await reader.connect();
  await reader.subscribe({ topic: deadLetterTopic, fromBeginning: true });
  await reader.run({ eachMessage: async ({ message }) => void letters.set(message.value!.toString(), (letters.get(message.value!.toString()) ?? 0) + 1) });
  const total = () => [...letters.values()].reduce((a, b) => a + b, 0);
  await waitFor('every dead letter in the dead-letter topic', async () => total(), (n) => n >= BAD_RECORDS, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  await reader.disconnect();
  assert.deepEqual(
    [...letters].sort(([a], [b]) => a.localeCompare(b)),
    Array.from({ length: BAD_RECORDS }, (_, i) => [badValue(i), 1] as [string, number]).sort(([a], [b]) => a.localeCompare(b)),
  );
});
