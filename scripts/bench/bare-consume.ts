/**
 * Bare consumers (count only) of the Kafka benches, one per client library behind the Kafka
 * port: what each library alone reads per second, the ceiling of an engine drain on it. Kept
 * apart from the engine's modules so a bare run in its own process (bare-child.ts) loads only
 * its library.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { kafkajsSecurity, type KafkaSecurity } from '../../src/kafka/kafka-security.ts';
import { log, result, startPhase, type BenchResult } from './common.ts';

export async function rawConsume(brokers: string[], security: KafkaSecurity | undefined, topic: string, n: number): Promise<BenchResult> {
  log(`kafka: raw kafkajs consume of ${n} messages (new group, fromBeginning)`);
  const kafka = new Kafka({ clientId: 'tributary-bench-raw', brokers, ...kafkajsSecurity(security), logLevel: logLevel.NOTHING });
  // The engine's fetch sizes (src/kafka/kafkajs-client.ts); its minBytes is 1, the same here on a backlog, where every fetch fills.
  const consumer = kafka.consumer({
    groupId: `bench-raw-${randomBytes(5).toString('hex')}`,
    minBytes: 256 * 1024,
    maxWaitTimeInMs: 100,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxBytes: 16 * 1024 * 1024,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    allowAutoTopicCreation: false,
  });
  const phase = startPhase();
  const t0 = performance.now();
  let count = 0;
  let batches = 0;
  let firstBatchSeconds = 0;
  let finished!: () => void;
  const all = new Promise<void>((resolve) => (finished = resolve));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: true,
    partitionsConsumedConcurrently: 1,
    eachBatch: async ({ batch }) => {
      if (batches++ === 0) firstBatchSeconds = (performance.now() - t0) / 1000;
      count += batch.messages.length;
      if (count >= n) finished();
    },
  });
  await all;
  const measure = phase();
  await consumer.disconnect();
  const steady = n / (measure.seconds - firstBatchSeconds);
  // The rate after the first batch means little when the rest took a few fetches.
  const after = measure.seconds - firstBatchSeconds > 0.1 ? `; ${Math.round(steady)}/s after it` : '';
  return result('raw kafkajs consume (count only)', n, measure, {
    note: `${batches} batches; first batch after ${firstBatchSeconds.toFixed(2)} s${after}`,
    details: { batches, firstBatchSeconds, eventsPerSecondAfterFirstBatch: steady },
  });
}

/** The same count with @platformatic/kafka 1.x: a MessagesStream of one new group from the earliest offset, same fetch sizes. */
export async function rawPlatformaticConsume(brokers: string[], topic: string, n: number): Promise<BenchResult> {
  log(`kafka: raw @platformatic/kafka consume of ${n} messages (new group, earliest)`);
  const { Consumer } = await import('@platformatic/kafka');
  const consumer = new Consumer({
    clientId: 'tributary-bench-raw-platformatic',
    bootstrapBrokers: brokers,
    groupId: `bench-raw-plt-${randomBytes(5).toString('hex')}`,
    minBytes: 256 * 1024,
    maxWaitTime: 100,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxBytes: 16 * 1024 * 1024,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    autocommit: false,
  });
  const phase = startPhase();
  const t0 = performance.now();
  let count = 0;
  let firstSeconds = 0;
  let fetches = 0;
  let finished!: () => void;
  const all = new Promise<void>((resolve) => (finished = resolve));
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  stream.on('fetch', () => fetches++);
  stream.on('data', () => {
    if (count++ === 0) firstSeconds = (performance.now() - t0) / 1000;
    if (count === n) finished();
  });
  await all;
  const measure = phase();
  await stream.close();
  await consumer.close(true);
  const steady = n / (measure.seconds - firstSeconds);
  const after = measure.seconds - firstSeconds > 0.1 ? `; ${Math.round(steady)}/s after it` : '';
  return result('raw @platformatic/kafka consume (count only)', n, measure, {
    note: `${fetches} fetches; first record after ${firstSeconds.toFixed(2)} s${after}`,
    details: { fetches, firstBatchSeconds: firstSeconds, eventsPerSecondAfterFirstBatch: steady },
  });
}
