/**
 * `npm run bench -- --only kafka-sink [--events 300000]`: records/s of the Kafka topic sink
 * (src/sinks/kafka) on the broker, at-least-once and exactly-once, with the peak RSS.
 *
 * Each run writes `events` fraud predictions (Avro, Confluent wire, fraud_prediction.avsc) from 3
 * source partitions in writes of 500 records, as the engine's window closes do, to a fresh
 * 3-partition topic:
 * - at-least-once: the engine's sink as is (idempotent producer, acks=all, sends of 1,000);
 *   done when every ack token is released (every send acknowledged);
 * - exactly-once: the checkpointer's side is played here: every 20,000 records (a checkpoint
 *   epoch, ~0.4 s of card-fraud output at 50k windows/s) each partition's rows are captured and
 *   committed in one transaction per partition with its offset; done when the last commits return.
 * The rate counts the records produced (read back: the topic's end offsets minus transaction markers).
 */
import { AckToken } from '../../src/core/ack.ts';
import type { StreamRecord } from '../../src/core/batch.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import type { Logger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import type { SinkEnvironment, TransactionalOutput } from '../../src/sinks/sink.ts';
import { kafkaTopicSink } from '../../src/sinks/kafka/topic-sink.ts';
import { log, result, SCHEMAS_DIR, startPhase, type BenchOptions, type BenchResult } from './common.ts';
import type { Services } from './kafka.ts';

const PARTITIONS = 3;
const WRITE = 500;
const EPOCH = 20_000;

interface Prediction {
  cardId: string; windowEnd: number; probability: number; model: string; count1m: number; sum1m: number; max1m: number; count5m: number; sum5m: number; max5m: number;
  source: string; fallbackReason: string; modelVersion: string; featureVersion: string; challengerModel: string; challengerProbability: number | null;
}

function predictions(count: number): StreamRecord<Prediction>[] {
  return Array.from({ length: count }, (_, i) => {
    const cardId = `card-${String(i % 10_000).padStart(5, '0')}`;
    const value: Prediction = { cardId, windowEnd: 1_767_600_000_000 + Math.floor(i / 10_000) * 60_000, probability: (i % 997) / 997, model: 'fraud-lr@1', count1m: 1 + (i % 5), sum1m: 12.5 * (1 + (i % 7)), max1m: 40, count5m: 3 + (i % 9), sum5m: 80.25, max5m: 60, source: 'model', fallbackReason: '', modelVersion: '1', featureVersion: 'v1', challengerModel: '', challengerProbability: null };
    return { value, key: cardId, eventTime: value.windowEnd - 1, topic: '', partition: -1, offset: '' };
  });
}

export async function benchKafkaSink(options: BenchOptions, services: Services, logger: Logger): Promise<BenchResult[]> {
  const client = createKafkajsClient({ brokers: services.kafkaBrokers.split(','), clientId: 'bench-kafka-sink', logger, security: services.kafkaSecurity });
  const admin = client.admin();
  await admin.connect();
  const rows = predictions(options.events);
  const results: BenchResult[] = [];
  try {
    for (const delivery of ['at-least-once', 'exactly-once'] as const) {
      const topic = `bench-kafka-sink-${delivery}-${Date.now()}`;
      await admin.createTopic(topic, { partitions: PARTITIONS });
      const outputs: TransactionalOutput[] = [];
      const environment: SinkEnvironment = {
        topology: 'card-fraud-bench', logger, metrics: new Metrics(), schemasDir: SCHEMAS_DIR, groupId: `bench-kafka-sink-${Date.now()}`,
        clickhouse: () => Promise.reject(new Error('unused')), state: () => Promise.reject(new Error('unused')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('unused')),
        fail: (error) => logger.error({ err: String(error) }, 'kafka sink failed'), kafkaClient: () => client, transactional: (output) => outputs.push(output),
      };
      const sink = kafkaTopicSink<Prediction>(topic, { schema: 'fraud_prediction.avsc', key: (p) => p.cardId, delivery }).create(environment);
      await sink.open();
      const output = outputs[0];
      // The offsets a transaction commits must name an existing topic.
      const sourceTopic = `bench-source-${Date.now()}`;
      await admin.createTopic(sourceTopic, { partitions: PARTITIONS });
      for (let p = 0; p < PARTITIONS; p++) await output?.restore(`${sourceTopic}:${p}`, null);
      let peakRss = process.memoryUsage().rss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
      const stop = startPhase();
      const tokens: AckToken[] = [];
      let sinceEpoch = 0;
      for (let i = 0; i < rows.length; i += WRITE) {
        const partition = (i / WRITE) % PARTITIONS;
        const token = new AckToken(`${sourceTopic}:${partition}`, BigInt(i), WRITE, () => {});
        tokens.push(token);
        sink.write(rows.slice(i, i + WRITE), [token]);
        token.release();
        if (!sink.isFull()) {
          if (i % 20_000 === 0) await new Promise((resolve) => setImmediate(resolve)); // let sends go out, as the engine loop does
        } else await sink.whenReady();
        sinceEpoch += WRITE;
        if (output && (sinceEpoch >= EPOCH || i + WRITE >= rows.length)) {
          sinceEpoch = 0;
          const checkpoints = Array.from({ length: PARTITIONS }, (_, p) => ({ partition: `${sourceTopic}:${p}`, offset: String(i + WRITE), output: output.capture(`${sourceTopic}:${p}`) }));
          await output.commit(checkpoints);
        }
      }
      await sink.flush();
      const measure = stop();
      clearInterval(sampler);
      const pending = tokens.filter((token) => !token.done).length;
      await sink.close();
      const ends = await admin.topicEndOffsets(topic);
      const written = ends.reduce((n, { high }) => n + Number(high), 0);
      const label = `kafka sink ${delivery}`;
      results.push(result(label, rows.length, measure, { note: `peak RSS ${Math.round(peakRss / 2 ** 20)} MiB; ${pending} tokens pending`, details: { peakRssMiB: Math.round(peakRss / 2 ** 20), topicEndOffsets: written, writes: WRITE, epochRecords: delivery === 'exactly-once' ? EPOCH : undefined } }));
      log(`${label}: end offsets ${written} for ${rows.length} records (exactly-once adds one marker per transaction and partition)`);
    }
  } finally {
    await admin.disconnect();
  }
  return results;
}
