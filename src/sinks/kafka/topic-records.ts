import type { AckToken } from '../../core/ack.ts';
import type { DeadLetter, StreamRecord } from '../../core/batch.ts';
import { ConfigError, errorMessage, SinkError } from '../../core/errors.ts';
import { jsonBytes } from '../../core/json-bytes.ts';
import type { SinkEnvironment } from '../sink.ts';
import type { ProducedMessage } from '../../kafka/kafka-client.ts';
import { createAvroEncoder } from '../../serde/avro.ts';
import type { Encoder } from '../../serde/decoder.ts';
import { createJsonEncoder } from '../../serde/json.ts';
import type { NamedSchemaSource, SchemaRegistryClient } from '../../serde/schema-resolver.ts';

/** kafkajs's producer slows down sharply past ~1,000 messages per send (measured in the bench). */
export const MESSAGES_PER_SEND = 1_000;

export type KafkaDelivery = 'at-least-once' | 'exactly-once';

export interface KafkaTopicSinkOptions<T> {
  /** The record key (default: the stream key set by keyBy; null: no key, round-robin partitions). */
  key?: (value: T) => string | Buffer | null;
  /** 'avro' (Confluent wire format: magic byte, schema id, body; needs `schema`) or 'json' (default 'avro' with a schema, else 'json'). */
  format?: 'avro' | 'json';
  /** Avro schema file, e.g. 'fraud_prediction.avsc'; its id comes from the topology's schema registry. */
  schema?: string;
  /**
   * 'at-least-once' (default): an idempotent producer, acks=all; offsets commit after the
   * produce ack, so a restart may produce a record again. 'exactly-once': Kafka transactions,
   * records and the source offsets they complete committed together (needs durable window state).
   */
  delivery?: KafkaDelivery;
  /** Flush after this many records (default 1,000) or this long after the first (default 200 ms). */
  maxRows?: number;
  maxDelayMs?: number;
}

/** Provenance header names: who produced the record and from what. */
export const HEADERS = {
  topology: 'tributary-topology',
  eventTime: 'tributary-event-time',
  source: 'tributary-source',
  offset: 'tributary-offset',
} as const;

/**
 * Turns stream records into Kafka messages: key, value (Avro in the Confluent wire format or
 * JSON) and provenance headers (topology, event time, and source partition and offset for
 * records read straight from a topic; window results carry their window's event time).
 */
export class TopicRecords<T> {
  private encoder: Encoder<T> | null = null;
  private readonly keyOf: (record: StreamRecord<T>) => string | Buffer | null;
  private readonly schema: string | undefined;

  constructor(
    private readonly topic: string,
    private readonly topology: string,
    options: KafkaTopicSinkOptions<T>,
    private readonly local: () => NamedSchemaSource,
  ) {
    const format = options.format ?? (options.schema ? 'avro' : 'json');
    if (format === 'avro' && !options.schema) throw new ConfigError(`kafkaTopicSink(${topic}).schema`, 'the avro format needs a schema file', "pass schema: 'name.avsc', or format: 'json'");
    this.schema = format === 'avro' ? options.schema : undefined;
    const key = options.key;
    this.keyOf = key ? (record) => key(record.value) : (record) => (record.key === '' ? null : record.key);
  }

  /**
   * Prepares the value encoder: Avro with the id the Schema Registry gives the schema under
   * `<topic>-value` (registered after a compatibility check), else the embedded registry.json's id.
   */
  async open(registry: SchemaRegistryClient | undefined): Promise<void> {
    const schema = this.schema;
    if (schema === undefined) {
      this.encoder = createJsonEncoder() as unknown as Encoder<T>;
      return;
    }
    const local = this.local();
    if (registry === undefined) {
      this.encoder = createAvroEncoder<T>({ wire: 'confluent', registry: local, schema });
      return;
    }
    const id = await registry.registerOutput(`${this.topic}-value`, schema);
    this.encoder = createAvroEncoder<T>({ wire: 'confluent', registry: { has: (f) => local.has(f), schema: (f) => local.schema(f), idOf: () => id }, schema });
  }

  /** `failed`: records that cannot be encoded (EncodeError), for the dead letters. */
  messages(records: readonly StreamRecord<T>[], failed: (record: StreamRecord<T>, error: unknown) => void): ProducedMessage[] {
    const messages: ProducedMessage[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const headers: Record<string, string> = { [HEADERS.topology]: this.topology, [HEADERS.eventTime]: String(record.eventTime) };
      if (record.partition >= 0) {
        headers[HEADERS.source] = `${record.topic}:${record.partition}`;
        headers[HEADERS.offset] = record.offset;
      }
      try {
        messages.push({ key: this.keyOf(record), value: this.encoder!.encode(record.value), headers });
      } catch (error) {
        failed(record, error);
      }
    }
    return messages;
  }

  describe(): string {
    return `kafka topic ${this.topic}`;
  }
}

/**
 * Encoding failures become dead letters (step `kafka:<topic>`, counted in
 * tributary_dead_letters_total), with the value as JSON bytes; without dead-letter sinks the
 * engine stops (never a silent drop).
 */
export function encodeFailures<T>(topic: string, environment: SinkEnvironment): { letters: DeadLetter[]; failed: (record: StreamRecord<T>, error: unknown) => void; route: (acks: readonly AckToken[]) => void } {
  const letters: DeadLetter[] = [];
  return {
    letters,
    route: (acks) => {
      if (letters.length === 0) return;
      if (environment.deadLetter) environment.deadLetter(letters, acks);
      else environment.fail(new SinkError(`kafka:${topic}`, `${letters.length} record(s) cannot be encoded and there is no dead-letter sink: ${letters[0]!.error}`, { retriable: false }));
    },
    failed: (record, error) => {
      letters.push({ step: `kafka:${topic}`, topic: record.topic, partition: record.partition, offset: record.offset, error: errorMessage(error), raw: jsonBytes(record.value), timestamp: record.eventTime });
    },
  };
}

