import type { AckToken } from '../core/ack.ts';
import type { DeadLetter } from '../core/batch.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ClickHouseClient } from '@clickhouse/client';
import type { KeyValueStore } from '../state/key-value-store.ts';
import type { PushServer } from './push-port.ts';
import type { KafkaClient, Producer } from '../kafka/kafka-client.ts';
import type { SchemaRegistryClient } from '../serde/schema-resolver.ts';
import type { SinkTrace } from '../observability/tracing/batch-trace.ts';

/**
 * The sink contract. `write` is synchronous and only buffers: a sink retains the ack tokens of
 * what it buffered and releases them once the destination has acknowledged the rows. A sink
 * that cannot keep up reports `isFull()`; the runtime then stops pulling from the source until
 * it drains, which pauses fetching from Kafka.
 */
export interface Sink<T = unknown> {
  readonly name: string;
  open(): Promise<void>;
  /** `trace`: tracing is on and the rows descend from traced batches (the write's span parents). */
  write(rows: readonly T[], acks: readonly AckToken[], trace?: SinkTrace): void;
  isFull(): boolean;
  /** Resolves when the sink has room again. */
  whenReady(): Promise<void>;
  /** Writes everything buffered and waits for the acknowledgement. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /**
   * Resolves once every row written so far is in the destination sink's own buffer (a sink that
   * works on rows asynchronously before that, as a governed sink masking them); absent: at once.
   */
  settled?(): Promise<void>;
}

/** What sinks need from the running engine; built once by the runner. */
export interface SinkEnvironment {
  topology: string;
  logger: Logger;
  metrics: Metrics;
  clickhouse: () => Promise<ClickHouseClient>;
  state: () => Promise<KeyValueStore>;
  push: () => PushServer | undefined;
  /** A connected producer on KAFKA_BROKERS (dead-letter topics); fails with ConfigError without brokers. */
  kafkaProducer: () => Promise<Producer>;
  schemasDir: string;
  /** Stops the engine with this error (a sink that can never succeed, e.g. rows the table rejects). */
  fail: (error: unknown) => void;
  /**
   * Sends records a sink's destination rejected one by one (found by bisecting) to the
   * topology's dead-letter sinks, counted in tributary_dead_letters_total{step}. The sinks
   * retain `acks`, so offsets commit only once the letters are stored. Absent for the
   * dead-letter sinks themselves (a rejected dead letter stays fatal) and where none is wired.
   */
  deadLetter?: (letters: DeadLetter[], acks: readonly AckToken[]) => void;
  /**
   * What produced the rows: 'online' unless the engine runs a backfill ('backfill'). ClickHouse
   * tables with `origin: true` store it, so backfilled rows sit next to the online ones.
   */
  origin?: string;
  /**
   * Data protection: the Avro schema as this sink's destination stores it (dropped fields gone,
   * hashed and tokenized ones as strings). Set by the runtime for governed ClickHouse tables,
   * whose rows are masked before they reach the sink (governed-sink.ts).
   */
  governedSchema?: (schema: object) => object;
  /** The topology's Schema Registry (topology option schemaRegistry); absent: schemas/registry.json's ids. */
  schemaRegistry?: () => SchemaRegistryClient | undefined;
  /** The source's consumer group (transactional sinks commit its offsets). */
  groupId?: string;
  /** Kafka clients on KAFKA_BROKERS (transactional producers, admin); fails with ConfigError without brokers. */
  kafkaClient?: () => KafkaClient;
  /**
   * Registers an output whose rows are committed with the checkpoints (exactly-once Kafka
   * topics); the engine refuses to start when it has no durable window state.
   */
  transactional?: (output: TransactionalOutput) => void;
}

/**
 * An output committed in step with the window-state checkpoints (runtime/checkpointer.ts): at
 * each capture it hands over what the partition emitted since the previous capture (stored with
 * the checkpoint), after the save it commits exactly that together with the checkpoint's offset
 * in one transaction, and when a partition is assigned it finishes a commit the previous owner
 * saved but did not complete.
 */
export interface TransactionalOutput {
  readonly name: string;
  /** Whether `partition` emitted rows not yet captured (a capture is due even without new offsets). */
  holds(partition: string): boolean;
  /** The rows `partition` emitted since its last capture, serialized. */
  capture(partition: string): Uint8Array | undefined;
  /** After the checkpoints were saved: commits each one's captured rows with its offset, atomically. */
  commit(checkpoints: ReadonlyArray<{ partition: string; offset: string; output: Uint8Array | undefined }>): Promise<void>;
  /** Before the first batch of an assigned partition, with its restored checkpoint (null: none). */
  restore(partition: string, checkpoint: { offset: string; output: Uint8Array | undefined } | null): Promise<void>;
  /** The partition moved to another instance: drop what it emitted here. */
  revoke(partition: string): void;
}

/** A sink as declared in a topology; the runner instantiates it with the environment. */
export interface SinkSpec<T = unknown> {
  readonly description: string;
  /**
   * The destination's kind, where the sink declares one. A backfill keeps only 'clickhouse'
   * sinks: it must not overwrite live online state, push history to dashboards or produce to
   * Kafka. Sinks without a kind are treated as neither and skipped there.
   */
  readonly kind?: 'clickhouse' | 'state' | 'websocket' | 'kafka';
  /** What it writes to, where the sink names one: a table, a WebSocket channel, a topic, a key prefix. */
  readonly destination?: string;
  /** ClickHouse tables and views the sink writes or maintains: what the SQL endpoint lets analysts read. */
  readonly tables?: readonly string[];
  create(env: SinkEnvironment): Sink<T>;
}

