/**
 * Kafka phases on one fresh topic (3 partitions): preload N Avro (Confluent wire) payments with
 * the project's producer, count them back with a bare kafkajs consumer, decode them alone, then
 * drain the topic with the full card-fraud topology (ClickHouse server, Redis, push disabled).
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import type { Logger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { Engine } from '../../src/runtime/engine.ts';
import { createAvroDecoder, createAvroEncoder } from '../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import { connectClickHouse } from '../../src/clickhouse/connection.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import { kafkajsSecurity, type KafkaSecurity } from '../../src/kafka/kafka-security.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { rawConsume, rawPlatformaticConsume } from './bare-consume.ts';
import { BENCH_TOPOLOGY, benchConfig, fullTopology, log, paymentStream, result, SCHEMAS_DIR, startPhase, type BenchOptions, type BenchResult } from './common.ts';

export interface Services {
  kafkaBrokers: string;
  clickhouseUrl: string;
  redisUrl: string;
  /** TLS and SASL of the Kafka cluster, for every Kafka client of the bench (the raw one too). */
  kafkaSecurity?: KafkaSecurity;
}

const PARTITIONS = 3;
// kafkajs groups each send's messages per partition by copying arrays (quadratic in the
// send's size), so moderate sends with several in flight produce fastest.
const PRODUCE_BATCH = 1_000; // messages per producer.send
const PRODUCE_IN_FLIGHT = 8; // sends awaited together

export async function benchKafka(options: BenchOptions & { keep: boolean }, services: Services, logger: Logger): Promise<BenchResult[]> {
  const n = options.events;
  const brokers = services.kafkaBrokers.split(',');
  const topic = `bench_payments_${randomBytes(5).toString('hex')}`;
  const prefix = `bench_${randomBytes(4).toString('hex')}_`;
  const results: BenchResult[] = [];
  const registry = LocalSchemaRegistry.fromDirectory(SCHEMAS_DIR);

  log(`kafka: generating and encoding ${n} payments`);
  const encoder = createAvroEncoder<Payment>({ wire: 'confluent', registry, schema: 'payment.avsc' });
  const payments = paymentStream(options, n);
  let phase = startPhase();
  const values = payments.map((p) => encoder.encode(p));
  results.push(result('avro encode (Confluent wire)', n, phase()));

  const client = createKafkajsClient({ brokers, clientId: 'tributary-bench', logger, security: services.kafkaSecurity });
  const admin = client.admin();
  await admin.connect();
  const producer = client.producer();
  await producer.connect();
  try {
    await admin.createTopic(topic, { partitions: PARTITIONS });
    log(`kafka: producing ${n} messages to ${topic} (${PRODUCE_BATCH} per send, ${PRODUCE_IN_FLIGHT} sends in flight)`);
    phase = startPhase();
    // Keyed by card, as the integration test does: each card's order is its partition's order.
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i += PRODUCE_BATCH) {
      const end = Math.min(i + PRODUCE_BATCH, n);
      const messages = [];
      for (let j = i; j < end; j++) messages.push({ key: payments[j]!.cardId, value: values[j]! });
      sends.push(producer.send(topic, messages));
      if (sends.length >= PRODUCE_IN_FLIGHT) await sends.shift();
    }
    await Promise.all(sends);
    results.push(result('kafka produce (project producer, acks=all)', n, phase(), { note: `${PARTITIONS} partitions, topic ${topic}` }));
    const written = (await admin.topicEndOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
    if (written !== n) throw new Error(`topic ${topic} holds ${written} messages, expected ${n}`);

    results.push(await rawConsume(brokers, services.kafkaSecurity, topic, n));
    if (services.kafkaSecurity === undefined) results.push(await rawPlatformaticConsume(brokers, topic, n));

    log(`avro decode of ${n} messages`);
    const decoder = createAvroDecoder<Payment>({ wire: 'confluent', registry });
    for (let i = 0; i < Math.min(n, 20_000); i++) decoder.decode(values[i]!); // warm-up
    phase = startPhase();
    let checksum = 0;
    for (let i = 0; i < n; i++) checksum += decoder.decode(values[i]!).ts & 1;
    results.push(result('avro decode only', n, phase(), { details: { checksum } }));

    results.push(await engineDrain(options, services, topic, prefix, 'memory', logger));
    results.push(await engineDrain(options, services, topic, `${prefix}durable_`, 'redis', logger));
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    if (!options.keep) {
      await cleanUp(services, brokers, topic, prefix, logger);
      await cleanUp(services, brokers, null, `${prefix}durable_`, logger);
    }
    else log(`kept topic ${topic} and tables ${prefix}*`);
  }
  return results;
}

/** A bare kafkajs consumer with the engine's fetch settings, counting messages and nothing else. */

/**
 * The full topology from Engine.start until stats().processedRecords reaches N, then
 * engine.stop() (final sink flush, offset commit, disconnect) is included in the time. With
 * window state 'redis', open windows are checkpointed to Redis (every 5 s by default).
 */
export async function engineDrain(options: BenchOptions, services: Services, topic: string, prefix: string, windowState: 'memory' | 'redis', logger: Logger, extra: { env?: Record<string, string>; label?: string } = {}): Promise<BenchResult> {
  const n = options.events;
  log(`kafka: card-fraud topology draining ${n} events (ClickHouse ${services.clickhouseUrl}, Redis ${services.redisUrl}, ${windowState} window state)`);
  const config = benchConfig({
    KAFKA_BROKERS: services.kafkaBrokers,
    CLICKHOUSE_URL: services.clickhouseUrl,
    REDIS_URL: services.redisUrl,
    TRIBUTARY_GROUP_ID: `bench-${randomBytes(5).toString('hex')}`,
    TRIBUTARY_WINDOW_STATE: windowState,
    TRIBUTARY_CHECKPOINT_INTERVAL_MS: process.env.TRIBUTARY_CHECKPOINT_INTERVAL_MS,
    ...extra.env,
  });
  if (services.kafkaSecurity) config.kafkaSecurity = services.kafkaSecurity;
  const phase = startPhase();
  const t0 = performance.now();
  const metrics = new Metrics();
  const engine = await Engine.start(fullTopology({ topic, tablePrefix: prefix }), { config, logger, push: false, metrics });
  const startupSeconds = (performance.now() - t0) / 1000;
  let firstRecordSeconds = 0;
  let failure: unknown;
  engine.done.catch((error) => (failure = error));
  // Polled every 5 ms. The poll only runs when the engine yields to the event loop, so the
  // 'all processed' time can be late; the reported total runs to the end of engine.stop().
  while (engine.stats().processedRecords < n) {
    if (failure !== undefined) throw failure;
    if (firstRecordSeconds === 0 && engine.stats().processedRecords > 0) firstRecordSeconds = (performance.now() - t0) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const processedSeconds = (performance.now() - t0) / 1000;
  const stats = engine.stats();
  // Windows computed but not yet scored when the last event was processed: stop() waits for them.
  const unscored = (stats.routed.features ?? 0) - (stats.routed.predictions ?? 0);
  await engine.stop();
  if (failure !== undefined) throw failure;
  const measure = phase();
  const stopSeconds = measure.seconds - processedSeconds;
  const rows = await countServerRows(services.clickhouseUrl, prefix, logger);
  if (rows.payments !== n) throw new Error(`ClickHouse holds ${rows.payments} payments, expected ${n}`);
  return result(extra.label ?? (windowState === 'memory' ? 'kafka pipeline (full topology, drain)' : 'kafka pipeline (full topology, drain, durable window state)'), n, measure, {
    note: `startup ${startupSeconds.toFixed(2)} s; first record ${firstRecordSeconds > 0 ? `${firstRecordSeconds.toFixed(2)} s` : 'not seen by the poll'}; all processed ${processedSeconds.toFixed(2)} s (${Math.round(n / processedSeconds)}/s), ${unscored} windows then still unscored; stop+flush ${stopSeconds.toFixed(2)} s`,
    details: { startupSeconds, firstRecordSeconds, processedSeconds, stopSeconds, eventsPerSecondToProcessed: n / processedSeconds, unscoredAtProcessed: unscored, rows, stats, checkpoints: await checkpointStats(metrics) },
  });
}

/** Checkpoints saved, the last one's size, and the snapshot (blocking) time per checkpoint. */
async function checkpointStats(metrics: Metrics): Promise<Record<string, number>> {
  const saved = (await metrics.checkpoints.get()).values[0]?.value ?? 0;
  const bytes = (await metrics.checkpointBytes.get()).values[0]?.value ?? 0;
  const seconds = (await metrics.checkpointSeconds.get()).values;
  const sum = seconds.find((v) => v.metricName === 'tributary_checkpoint_seconds_sum' && v.labels.phase === 'snapshot')?.value ?? 0;
  const count = seconds.find((v) => v.metricName === 'tributary_checkpoint_seconds_count' && v.labels.phase === 'snapshot')?.value ?? 0;
  return { saved, lastBytes: bytes, snapshots: count, snapshotMsMean: count > 0 ? (sum / count) * 1000 : 0 };
}

async function countServerRows(url: string, prefix: string, logger: Logger): Promise<Record<string, number>> {
  const client = await connectClickHouse({ url, logger });
  try {
    const out: Record<string, number> = {};
    for (const [name, table] of Object.entries({ payments: 'payments', features: 'card_features', predictions: 'fraud_predictions', late: 'late_records', deadLetters: 'dead_letters' })) {
      const rows = await (await client.query({ query: `SELECT count() AS n FROM ${prefix}${table}`, format: 'JSONEachRow' })).json<{ n: string }>();
      out[name] = Number(rows[0]?.n ?? 0);
    }
    return out;
  } finally {
    await client.close();
  }
}

/** Drops the bench topic, tables and Redis keys so repeated runs do not fill the shared services. */
export async function cleanUp(services: Services, brokers: string[], topic: string | null, prefix: string, logger: Logger): Promise<void> {
  if (topic !== null) {
    const kafka = new Kafka({ clientId: 'tributary-bench-cleanup', brokers, ...kafkajsSecurity(services.kafkaSecurity), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect().then(() => admin.deleteTopics({ topics: [topic] })).catch((error) => log(`could not delete topic ${topic}: ${String(error)}`));
    await admin.disconnect().catch(() => {});
  }
  const client = await connectClickHouse({ url: services.clickhouseUrl, logger }).catch(() => null);
  // Views first: the rollups' materialized views read from the tables.
  const rollups = ['fraud_rate_per_minute', 'merchant_stats_per_hour'].flatMap((name) => [name, `${name}_mv`]);
  for (const table of [...rollups, 'payments', 'card_features', 'fraud_predictions', 'late_records', 'dead_letters']) {
    await client?.command({ query: `DROP TABLE IF EXISTS ${prefix}${table}` }).catch((error) => log(`could not drop ${prefix}${table}: ${String(error)}`));
  }
  await client?.close();
  const redis = new Redis(services.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `tributary:${BENCH_TOPOLOGY}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch (error) {
    log(`could not remove Redis keys tributary:${BENCH_TOPOLOGY}:*: ${String(error)}`);
  } finally {
    redis.disconnect();
  }
}

export { rawConsume, rawPlatformaticConsume } from './bare-consume.ts';
