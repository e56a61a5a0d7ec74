import { randomBytes } from 'node:crypto';
import { ConfigError, ConnectionError, errorMessage } from '../core/errors.ts';
import { retry } from '../core/retry.ts';
import { createDecoder, type DecoderFormat } from '../serde/create-decoder.ts';
import { LocalSchemaRegistry } from '../serde/schema-registry.ts';
import type { ConsumerOptions, FetchedBatch, KafkaClient } from '../kafka/kafka-client.ts';
import { createKafkajsClient } from '../kafka/kafkajs-client.ts';
import { CatchUp } from './catch-up.ts';
import type { LookupTable } from './lookup-table.ts';
import { tableMetrics } from './table-metrics.ts';
import { applyMessages, type TableRecordReader } from './table-records.ts';
import type { RunningTableSource, TableEnvironment } from './table-source.ts';

export interface KafkaTableFeedOptions<V> {
  topic: string;
  format: DecoderFormat;
  schema?: string;
  key?: (value: V) => string | number;
  stallMs: number;
  consumer?: Partial<Omit<ConsumerOptions, 'groupId'>>;
  client?: (brokers: string[], environment: TableEnvironment) => KafkaClient;
}

/**
 * Reads a table's topic into `table` and keeps following it. Each process has its own consumer
 * group (so it gets every partition), starts from the beginning and never commits: the topic,
 * not a group offset, is the table's durable state. Resolves once the table has caught up with
 * the end offsets the topic had when this was called.
 */
export async function startKafkaTableFeed<V>(table: LookupTable<V>, environment: TableEnvironment, options: KafkaTableFeedOptions<V>): Promise<RunningTableSource> {
  const { topic } = options;
  const field = `tables.${table.name}`;
  const brokers = environment.kafkaBrokers;
  if (!brokers || brokers.length === 0) {
    throw new ConfigError('KAFKA_BROKERS', `table "${table.name}" reads Kafka topic "${topic}" but no brokers are configured`, 'set KAFKA_BROKERS=host:port, or fill the table with lookupTable() and apply() instead');
  }
  const reader: TableRecordReader<V> = { decoder: createTableDecoder<V>(field, options, environment.schemasDir), key: options.key };
  const logger = environment.logger.child({ table: table.name, topic });
  const client = options.client?.(brokers, environment) ?? createKafkajsClient({ brokers, clientId: `tributary-${environment.topology}-table-${table.name}`, logger, security: environment.kafkaSecurity });
  const connect = (what: string, operation: () => Promise<void>) =>
    retry(operation, {
      what,
      maxAttempts: 3,
      initialDelayMs: 1_000,
      onRetry: ({ attempt, delayMs, error }) => logger.warn({ attempt, delayMs, err: errorMessage(error) }, `Kafka at ${brokers.join(',')} unreachable, retrying`),
    }).catch((error) => {
      if (error instanceof ConfigError) throw error;
      throw new ConnectionError('Kafka', `table ${table.name}: cannot reach brokers ${brokers.join(',')} (is the broker running? scripts/services.sh start)`, error, { retriesExhausted: true });
    });

  const ends = await readEndOffsets(client, table.name, topic, connect);
  const catchUp = new CatchUp(ends);
  const groupId = `${environment.groupId}.table.${table.name}.${randomBytes(6).toString('hex')}`;
  const consumer = client.consumer({ minBytes: 1, maxWaitTimeMs: 500, ...options.consumer, groupId });
  const metrics = tableMetrics(environment.metrics);
  const labels = { topology: environment.topology, table: table.name };
  const untrack = metrics.track(labels, table as LookupTable<unknown>);
  /** Per partition, the next offset not applied yet: a re-read after a rebalance skips what was applied. */
  const applied = new Map<number, bigint>();

  const handle = async (batch: FetchedBatch): Promise<void> => {
    if (batch.topic !== topic || batch.messages.length === 0) return;
    const result = applyMessages(table, reader, batch.messages, applied.get(batch.partition) ?? 0n);
    if (result.nextOffset !== null) {
      if (result.nextOffset > (applied.get(batch.partition) ?? 0n)) applied.set(batch.partition, result.nextOffset);
      catchUp.advance(batch.partition, result.nextOffset);
    }
    if (result.updates > 0) metrics.updates.inc(labels, result.updates);
    if (result.deletes > 0) metrics.deletes.inc(labels, result.deletes);
    if (result.invalid.length > 0) {
      metrics.invalid.inc(labels, result.invalid.length);
      const [first] = result.invalid;
      logger.warn({ partition: batch.partition, offset: first!.offset, count: result.invalid.length, err: first!.error }, `table ${table.name}: skipped ${result.invalid.length} record(s) that could not be applied`);
    }
    table.maintain();
  };

  const started = Date.now();
  try {
    consumer.onProgress((progress) => {
      if (progress.topic === topic) catchUp.advance(progress.partition, BigInt(progress.nextOffset));
    });
    await connect(`connect the table ${table.name} reader to Kafka`, () => consumer.connect());
    await consumer.subscribe(topic, { fromBeginning: true });
    await consumer.run(handle);
    await whenCaughtUp(catchUp, options.stallMs, table.name, topic);
  } catch (error) {
    untrack();
    await consumer.disconnect().catch(() => {});
    throw error;
  }
  logger.info({ entries: table.size, ms: Date.now() - started, partitions: ends.length }, `table ${table.name} caught up with ${topic}`);
  return {
    close: async () => {
      untrack();
      await consumer.disconnect();
    },
  };
}

function createTableDecoder<V>(field: string, options: KafkaTableFeedOptions<V>, schemasDir: string) {
  if (options.format === 'json') return createDecoder<V>({ format: 'json' });
  const registry = LocalSchemaRegistry.fromDirectory(schemasDir);
  if (options.schema !== undefined && !registry.has(options.schema)) {
    throw new ConfigError(`${field}.schema`, `no schema file "${options.schema}" in ${schemasDir}`, 'name an .avsc file from the schemas directory');
  }
  return createDecoder<V>({ format: options.format, schema: options.schema, registry });
}

async function readEndOffsets(client: KafkaClient, table: string, topic: string, connect: (what: string, operation: () => Promise<void>) => Promise<void>) {
  const admin = client.admin();
  try {
    await connect(`connect the table ${table} admin client to Kafka`, () => admin.connect());
    return await admin.topicEndOffsets(topic);
  } catch (error) {
    if (error instanceof ConnectionError || error instanceof ConfigError) throw error;
    if (/does not host this topic-partition|unknown topic/i.test(errorMessage(error))) {
      throw new ConfigError(`tables.${table}.topic`, `topic "${topic}" does not exist`, `create it, compacted: kafka-topics.sh --create --topic ${topic} --config cleanup.policy=compact`);
    }
    throw new ConnectionError('Kafka', `table ${table}: cannot read the end offsets of topic "${topic}": ${errorMessage(error)}`, error);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Resolves once caught up; rejects when reading makes no progress for `stallMs` before that. */
function whenCaughtUp(catchUp: CatchUp, stallMs: number, table: string, topic: string): Promise<void> {
  if (catchUp.caughtUp) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (Date.now() - catchUp.lastProgressAt <= stallMs) return;
      clearInterval(timer);
      const behind = catchUp.lagging().map((p) => `partition ${p.partition} at ${p.position} of ${p.end}`).join(', ');
      reject(new ConnectionError('Kafka', `table ${table}: no progress reading topic "${topic}" for ${stallMs} ms while catching up (${behind})`));
    }, Math.max(10, Math.min(1_000, stallMs / 4)));
    void catchUp.done.then(() => {
      clearInterval(timer);
      resolve();
    });
  });
}
