import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import avsc from 'avsc';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { RedisCheckpointStore } from '../../src/state/redis-checkpoint-store.ts';
import { referenceCardFeatures } from './fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, requireService, SCHEMAS_DIR, uniqueName, waitFor } from './services.ts';
import { durableEngineEnv, startEngineProcess, type EngineProcess } from './engine-process.ts';
import { createPaymentsTopic } from './payments-topic.ts';

const PARTITIONS = 3;
const EVENTS = 18_000;
const START = Date.UTC(2026, 10, 4, 9, 0, 0);
/** The id registry.json gives fraud_prediction.avsc. */
const PREDICTION_SCHEMA_ID = 3;

export interface PredictionRecord {
  partition: number;
  key: string;
  headers: Record<string, string>;
  value: Record<string, unknown>;
}

/**
 * The card-fraud example with its predictions on a Kafka topic, run as engine processes on the
 * real broker, ClickHouse and Redis (durable window state) and SIGKILLed twice mid-stream: the
 * first engine is killed while it processes the second third of the payments, the second while
 * it processes the last third, and a third one finishes. Returns every record of the topic as a
 * consumer with `isolation` reads it, the reference windows and the ClickHouse predictions.
 */
export async function runKilledTwice(t: TestContext, options: { exactlyOnce: boolean; isolation: 'read_committed' | 'read_uncommitted' }) {
  const config = engineConfig();
  const brokers = config.kafkaBrokers!;
  const prefix = `${uniqueName('ks')}_`;
  const groupId = uniqueName('group');
  const payments = await createPaymentsTopic(brokers, { partitions: PARTITIONS });
  const predictionsTopic = uniqueName('predictions');
  await payments.admin.createTopic(predictionsTopic, { partitions: PARTITIONS });
  const ch = clickhouse();
  const redis = new Redis(requireService('REDIS_URL'));
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await redis.del(...Array.from({ length: PARTITIONS }, (_, p) => RedisCheckpointStore.keyOf('card-fraud', groupId, `${payments.topic}:${p}`)));
    redis.disconnect();
    await payments.close();
    await ch.close();
  });
  const env = { ...durableEngineEnv({ config, groupId, topic: payments.topic, prefix }), FRAUD_TEST_PREDICTIONS_TOPIC: predictionsTopic, FRAUD_TEST_PREDICTIONS_EXACTLY_ONCE: String(options.exactlyOnce) };
  const start = (): EngineProcess => {
    const engine = startEngineProcess(env);
    children.push(engine.child);
    return engine;
  };
  const generator = new CardPaymentModel({ seed: 23, cards: 300, lateShare: 0, fraudRate: 0.01 });
  const all = Array.from({ length: EVENTS }, (_, i) => generator.next(START + i * 60).payment);
  const third = EVENTS / 3;
  const rawCount = async () => Number((await queryRows<{ n: string }>(ch, `SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`))[0]!.n);
  const committed = async () => (await payments.admin.committedOffsets(groupId, payments.topic)).reduce((n, { offset }) => n + Math.max(0, Number(offset)), 0);
  const killWhileProcessing = async (engine: EngineProcess, part: Payment[], before: number) => {
    // Offsets committed (a checkpoint and, with transactions, its transaction) before the part arrives.
    await waitFor('a committed checkpoint', committed, (n) => n > 0, 90_000).catch((error) => {
      throw new Error(`${error.message}\n${engine.output().slice(-3000)}`);
    });
    await payments.send(part);
    await waitFor('the engine in the middle of the part', rawCount, (n) => n > before + part.length / 4, 90_000);
    engine.child.kill('SIGKILL');
    assert.equal(await engine.exited, null, 'killed by the signal');
  };
  await payments.send(all.slice(0, third));
  await killWhileProcessing(start(), all.slice(third, 2 * third), third);
  await killWhileProcessing(start(), all.slice(2 * third), 2 * third);
  await payments.sendWatermarkEvents(all);
  const last = start();

  const reference = referenceCardFeatures(all);
  await waitFor('every prediction in ClickHouse', async () => Number((await queryRows<{ n: string }>(ch, `SELECT uniqExact(cardId, windowEnd) AS n FROM ${prefix}fraud_predictions`))[0]!.n), (n) => n >= reference.length, 180_000).catch((error) => {
    throw new Error(`${error.message}\n${last.output().slice(-3000)}`);
  });
  // Every window on the topic too, then a clean stop, so the topic holds everything the run produced.
  await waitFor('every window on the topic', async () => distinctWindows(await readAll(brokers, predictionsTopic, options.isolation)), (n) => n >= reference.length, 60_000);
  last.child.kill('SIGTERM');
  assert.equal(await last.exited, 0, `clean exit on SIGTERM:\n${last.output().slice(-2000)}`);

  const records = await readAll(brokers, predictionsTopic, options.isolation);
  await ch.command({ query: `OPTIMIZE TABLE ${prefix}fraud_predictions FINAL` });
  const rows = await queryRows<Record<string, unknown>>(ch, `SELECT * FROM ${prefix}fraud_predictions`);
  return { records, reference, rows, brokers, predictionsTopic };
}

function distinctWindows(records: readonly PredictionRecord[]): number {
  return new Set(records.map((r) => `${String(r.value.cardId)}@${String(r.value.windowEnd)}`)).size;
}

/** The Avro type of fraud_prediction.avsc, compiled here with avsc (not through src/serde). */
const predictionType = avsc.Type.forSchema(JSON.parse(readFileSync(path.join(SCHEMAS_DIR, 'fraud_prediction.avsc'), 'utf8')));

/** Every record of `topic` from the start to its end offsets, as a fresh consumer group reads it. */
export async function readAll(brokers: string[], topic: string, isolation: 'read_committed' | 'read_uncommitted', schemaId = PREDICTION_SCHEMA_ID): Promise<PredictionRecord[]> {
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, BigInt(high)]));
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), readUncommitted: isolation === 'read_uncommitted' });
  const records: PredictionRecord[] = [];
  const reached = new Map<number, bigint>();
  const done = () => [...ends].every(([partition, high]) => high === 0n || (reached.get(partition) ?? -1n) >= high);
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  // Also fired for fetches of transaction markers only, so the reader sees it has reached the end.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.lastOffset != null) reached.set(payload.partition, BigInt(payload.lastOffset) + 1n);
  });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const value = message.value!;
      assert.equal(value.readUInt8(0), 0, 'magic byte');
      assert.equal(value.readUInt32BE(1), schemaId, 'schema id');
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
      records.push({ partition, key: message.key!.toString(), headers, value: { ...(predictionType.fromBuffer(value.subarray(5)) as Record<string, unknown>) } });
    },
  });
  try {
    await waitFor(`the end of ${topic}`, async () => done(), Boolean, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/** The fields a prediction record and its ClickHouse row must agree on. */
const COMPARED = ['probability', 'model', 'count1m', 'sum1m', 'max1m', 'count5m', 'sum5m', 'max5m', 'featureVersion', 'source'] as const;

export const windowOf = (value: Record<string, unknown>): string => `${String(value.cardId)}@${Number(value.windowEnd)}`;

/** Per window: the records of the topic; asserts each equals the window's ClickHouse row and that no window is missing. */
export function matchRows(records: readonly PredictionRecord[], rows: ReadonlyArray<Record<string, unknown>>, reference: ReadonlyArray<{ cardId: string; windowEnd: number }>): Map<string, PredictionRecord[]> {
  const byWindow = new Map<string, PredictionRecord[]>();
  for (const record of records) {
    const window = windowOf(record.value);
    byWindow.set(window, [...(byWindow.get(window) ?? []), record]);
  }
  const rowByWindow = new Map(rows.map((row) => [windowOf(row), row]));
  assert.equal(rowByWindow.size, reference.length, 'one ClickHouse prediction per reference window');
  assert.deepEqual([...byWindow.keys()].sort(), reference.map((f) => `${f.cardId}@${f.windowEnd}`).sort(), 'the windows on the topic are the reference windows');
  for (const [window, copies] of byWindow) {
    const row = rowByWindow.get(window)!;
    for (const record of copies) {
      assert.equal(record.key, record.value.cardId, 'keyed by card');
      assert.equal(record.headers['tributary-topology'], 'card-fraud');
      assert.equal(Number(record.headers['tributary-event-time']), Number(record.value.windowEnd) - 1, 'event time header: the window end - 1 ms');
      for (const field of COMPARED) {
        const actual = record.value[field];
        if (typeof actual !== 'number') {
          assert.equal(actual, row[field], `${window} ${field}`);
          continue;
        }
        // ClickHouse 18.16 reads and prints doubles through its own float conversion (3.72 comes
        // back as 3.7199999999999998): equal to the last bits, not bit for bit.
        const expected = Number(row[field]);
        assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${window} ${field}: ${actual} on the topic, ${expected} in ClickHouse`);
      }
    }
  }
  return byWindow;
}

/** The JSON values of every committed record of a 1-partition `topic` (read_committed), up to its end offset. */
export async function readTopicCommitted(brokers: string[], topic: string): Promise<unknown[]> {
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const high = BigInt((await admin.fetchTopicOffsets(topic))[0]!.high);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const values: unknown[] = [];
  let reached = 0n;
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.lastOffset != null) reached = BigInt(payload.lastOffset) + 1n;
  });
  await consumer.run({ eachMessage: async ({ message }) => void values.push(JSON.parse(message.value!.toString())) });
  try {
    await waitFor(`the end of ${topic}`, async () => reached >= high || high === 0n, Boolean, 30_000);
  } finally {
    await consumer.disconnect();
  }
  return values;
}
