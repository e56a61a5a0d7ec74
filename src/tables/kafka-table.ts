import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import type { DecoderFormat } from '../serde/create-decoder.ts';
import type { ConsumerOptions, KafkaClient } from '../kafka/kafka-client.ts';
import { startKafkaTableFeed } from './kafka-table-feed.ts';
import { LookupTable, type LookupTableOptions } from './lookup-table.ts';
import type { RunningTableSource, TableEnvironment, TableSource } from './table-source.ts';

export interface KafkaTableOptions<V> extends LookupTableOptions {
  /** The table's topic, normally compacted (cleanup.policy=compact) and keyed by the table key. */
  topic: string;
  format: DecoderFormat;
  /** Schema file in schemas/ ('avro' needs it; 'avro-confluent' reads the id from each record). */
  schema?: string;
  /**
   * The key of a decoded value. Default: the Kafka message key as UTF-8, which is also what
   * compaction keeps one record per. Tombstones (null values) always delete their message key,
   * so a key function must return the message key for deletes to reach its entries.
   */
  key?: (value: V) => string | number;
  /**
   * At start, how long reading may make no progress before the engine gives up with an error
   * naming the partitions behind (a total time limit would fail big tables). Default 60s.
   */
  catchUpStallTimeout?: Duration;
  consumer?: Partial<Omit<ConsumerOptions, 'groupId'>>;
  /** Replaces kafkajs (tests, other clients). */
  client?: (brokers: string[], environment: TableEnvironment) => KafkaClient;
}

const FORMATS: readonly string[] = ['avro', 'avro-confluent', 'json'] satisfies DecoderFormat[];

/**
 * A lookup table materialized from a Kafka topic: the latest value per key (latest offset wins),
 * a tombstone deletes, entries expire `ttl` after their record's timestamp. List it in the
 * topology's `tables` and every engine process reads the whole topic into memory (its own
 * consumer group, from the beginning, never committing), is caught up with the topic's end
 * offsets as of start before the main source starts, and follows updates live afterwards.
 *
 * @example
 * const merchants = kafkaTable<Merchant>({ name: 'merchants', topic: 'merchants', format: 'json', ttl: '24h' });
 * defineTopology({ ..., tables: [merchants], pipeline: (payments) => ({ out: payments.pipe(enrich(merchants, { ... })) }) });
 */
export function kafkaTable<V>(options: KafkaTableOptions<V>): LookupTable<V> {
  const field = `tables.${String(options.name)}`;
  if (typeof options.topic !== 'string' || options.topic === '') throw new ConfigError(`${field}.topic`, 'no topic given', "set kafkaTable({ topic: 'merchants', ... })");
  if (!FORMATS.includes(options.format)) {
    throw new ConfigError(`${field}.format`, `unknown format "${String(options.format)}"`, `use one of ${FORMATS.map((f) => `"${f}"`).join(', ')}`);
  }
  if (options.format === 'avro' && !options.schema) {
    throw new ConfigError(`${field}.schema`, 'format "avro" (bare Avro binary) needs a schema file', 'set schema to a file in schemas/, e.g. "merchant.avsc", or use format "avro-confluent"');
  }
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new ConfigError(`${field}.key`, 'must be a function of the decoded value', 'write key: (value) => value.id, or leave it out to use the message key');
  }
  const stallMs = toMillis(options.catchUpStallTimeout ?? '60s', `${field}.catchUpStallTimeout`);
  return new LookupTable<V>(options, new KafkaTableSource(options, stallMs));
}

class KafkaTableSource<V> implements TableSource<V> {
  readonly description: string;

  constructor(
    private readonly options: KafkaTableOptions<V>,
    private readonly stallMs: number,
  ) {
    this.description = `kafka topic ${options.topic} (${options.format})`;
  }

  start(table: LookupTable<V>, environment: TableEnvironment): Promise<RunningTableSource> {
    const { options } = this;
    return startKafkaTableFeed(table, environment, {
      topic: options.topic,
      format: options.format,
      schema: options.schema,
      key: options.key,
      stallMs: this.stallMs,
      consumer: options.consumer,
      client: options.client,
    });
  }
}
