import type { SchemaRegistryClient } from '../serde/schema-resolver.ts';
import type { KafkaClientKind } from '../kafka/create-kafka-client.ts';
import type { AckToken } from '../core/ack.ts';
import type { CommittableOffset } from '../core/offset-tracker.ts';
import type { DeadLetter, StreamRecord } from '../core/batch.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { OffsetGapPolicy } from './kafka/offset-gaps.ts';
import type { PipelineTracer } from '../observability/tracing/pipeline-tracer.ts';
import type { BatchTrace } from '../observability/tracing/batch-trace.ts';
import type { KafkaSecurity } from '../kafka/kafka-security.ts';

/** Records decoded from one fetch of one partition, and the token that acknowledges them. */
export interface SourceBatch<T> {
  /** 'topic:partition', the unit of watermarks and offsets. */
  partitionKey: string;
  records: StreamRecord<T>[];
  /** Records that could not be decoded, with their raw bytes. */
  deadLetters: DeadLetter[];
  /** Largest event time among `records` (-Infinity when none). */
  maxEventTime: number;
  token: AckToken;
  /** Encoded bytes of the records (Kafka message values), bounded by TRIBUTARY_MAX_IN_FLIGHT_BYTES. */
  bytes?: number;
  /** Present when the batch is traced (tracing on, and a followed record in it or sampled on its own). */
  trace?: BatchTrace;
}

/** What the runtime gives a source. */
export interface SourceContext<T> {
  logger: Logger;
  metrics: Metrics;
  topology: string;
  /**
   * Hands a batch to the engine. Resolves once it is queued; it waits while the in-flight
   * buffer is full, and that wait is the backpressure: a source stops fetching meanwhile.
   * `keepAlive` is called periodically while waiting (Kafka heartbeats).
   */
  push(batch: SourceBatch<T>, keepAlive?: () => Promise<void>): Promise<void>;
  /**
   * The partitions this instance now reads (after every group join): the tasks of partitions it
   * no longer reads are dropped; the topology watermark is the minimum over these.
   */
  assigned(partitionKeys: readonly string[]): void;
  /**
   * The partition has records in Kafka that the source has not reached yet (it cannot fetch them,
   * e.g. while its leader fails over): it is behind, so it must not count as idle.
   */
  behind?(partitionKey: string): void;
  /**
   * Called before the first batch of a partition in an assignment: restores the partition's
   * state (durable window state) and resolves with the offset it covers. Records below it are
   * already in that state: the source skips them. Undefined: nothing to skip.
   */
  prepare?(partitionKey: string): Promise<bigint | undefined>;
  /** Durable state only: the offset of the partition's saved checkpoint, without restoring it. */
  checkpointOffset?(partitionKey: string): Promise<bigint | undefined>;
  /**
   * Durable state only: deletes the partition's checkpoint and drops its task, because the
   * offset it covers no longer exists (an accepted offset gap); the partition starts empty.
   */
  discardCheckpoint?(partitionKey: string): Promise<void>;
  /** A fatal source failure: the engine stops and reports it. */
  fail(error: unknown): void;
  /** A bounded source delivered its last batch: the engine drains, closes all windows and ends. */
  end(): void;
  /**
   * Durable state only: called before each commit with the acknowledged offsets (next offset per
   * 'topic:partition'); returns the offsets that may be committed (those of the last saved
   * checkpoint), so committed offsets never pass the saved window state.
   */
  commitGate?: (acknowledged: ReadonlyMap<string, bigint>) => Promise<CommittableOffset[]>;
}

/** A source of records: Kafka, the generator, or a replay of stored events. */
export interface Source<T> {
  readonly description: string;
  /** Starts delivering batches through `context.push`; resolves once running. */
  start(context: SourceContext<T>): Promise<void>;
  /** Stops fetching; already pushed batches are still processed. */
  stop(): Promise<void>;
  /** Commits what has been acknowledged so far (a no-op for sources without offsets). */
  commit(): Promise<void>;
  /** Releases connections; called after the last commit. */
  close(): Promise<void>;
  /**
   * "Now" on this source's clock, epoch ms: the wall clock for a live topic, the simulated clock
   * of a generator that replays the past faster. Contract rules and freshness are judged against
   * it. Absent for replays of stored events (a backfill), which have no processing time.
   */
  processingTime?(): number;
}

export interface SourceEnvironment {
  topology: string;
  logger: Logger;
  metrics: Metrics;
  schemasDir: string;
  kafkaBrokers?: string[];
  /** TLS and SASL for KAFKA_BROKERS (the engine's, for every Kafka client); absent: PLAINTEXT. */
  kafkaSecurity?: KafkaSecurity;
  /** TRIBUTARY_KAFKA_CLIENT: the library behind the Kafka port; absent: kafkajs. */
  kafkaClient?: KafkaClientKind;
  groupId: string;
  commitIntervalMs: number;
  /** Largest batch handed to the engine at once; fetches are split into chunks of this size. */
  maxChunkRecords: number;
  /** Most encoded bytes in one pushed batch (a quarter of TRIBUTARY_MAX_IN_FLIGHT_BYTES); absent: no byte bound. */
  maxChunkBytes?: number;
  /** Kafka fetch sizes from the memory budget (TRIBUTARY_MEMORY_MB). */
  fetch?: { maxBytes: number; maxBytesPerPartition: number };
  /** Window state is checkpointed (TRIBUTARY_WINDOW_STATE=redis): offset gaps then fail by default. */
  durableState?: boolean;
  /** TRIBUTARY_ON_OFFSET_GAP: the operator's policy for offset gaps, over the topology's. */
  onOffsetGap?: OffsetGapPolicy;
  /**
   * Where lost records are recorded besides logs and metrics. Hook for the engine's audit trail
   * (not wired by the engine yet: it has no trail on this branch); default none.
   */
  audit?: AuditTrail;
  /** Tracing is on: the source opens each traced batch's decode span. */
  tracer?: PipelineTracer;
  /** The topology's Schema Registry: writer schemas by id over its API (absent: schemas/registry.json). */
  schemaRegistry?: SchemaRegistryClient;
}

/** A source as declared in a topology; created when the engine starts. */
export interface SourceSpec<T> {
  readonly description: string;
  /** Bounded out-of-orderness: each partition's watermark trails its largest event time by this. */
  readonly outOfOrdernessMs: number;
  /**
   * Processing time without records after which a partition stops holding the watermark back
   * (it rejoins when it delivers again). Absent or 0: partitions never count as idle.
   */
  readonly idleTimeoutMs?: number;
  /** Event time of a decoded value (epoch ms); used by replays and plain-array runs too. */
  readonly eventTime: (value: T) => number;
  /** The Avro schema file of its records, where it names one (data protection reads its tags). */
  readonly schema?: string;
  /** The source has offsets to resume from, so durable window state can be checkpointed with them. */
  readonly resumable?: boolean;
  create(environment: SourceEnvironment): Source<T>;
}
