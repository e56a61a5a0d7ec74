/**
 * The one internal interface to Kafka. The engine, tests and benchmarks use only this, so a
 * faster maintained client (@platformatic/kafka) can replace kafkajs behind it when benchmarks
 * say so.
 */
export interface KafkaMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Broker or producer timestamp, epoch ms as a string (kafkajs convention). */
  timestamp: string;
  /** Record headers (a W3C `traceparent` among them when the producer traced it). */
  headers?: Record<string, Buffer | string | Array<Buffer | string> | undefined>;
}

export interface FetchedBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  /** The partition's high watermark when fetched (offset of the next record produced), for consumer lag. */
  highWatermark?: string;
}

/** What a batch handler handled: everything (void), up to an offset, or nothing (null). */
export type BatchHandled = void | string | null;

export interface BatchControl {
  /** Keeps the group membership alive while a handler waits (backpressure). */
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  /** True when a rebalance made this batch obsolete. */
  isStale(): boolean;
}

export interface ConsumerOptions {
  groupId: string;
  /** Wait for at least this many bytes per fetch (bigger batches, fewer round trips). */
  minBytes?: number;
  maxWaitTimeMs?: number;
  maxBytesPerPartition?: number;
  /** Most bytes one fetch response may hold over all partitions. */
  maxBytes?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /**
   * Also read records of open and aborted transactions (default false: read_committed, so a
   * consumer of a transactional sink's topic never sees a record whose transaction aborted).
   */
  readUncommitted?: boolean;
}

/**
 * What a consumer fetches when its options leave a setting out, the same behind every client.
 * `minBytes` 1 (Kafka's own default): a fetch returns as soon as records exist, so a window's
 * closing record never waits out maxWaitTimeMs for bytes to accumulate; a backlog still fills
 * each fetch up to the byte limits.
 */
export const FETCH_DEFAULTS = {
  minBytes: 1,
  maxWaitTimeMs: 100,
  maxBytesPerPartition: 4 * 1024 * 1024,
  maxBytes: 16 * 1024 * 1024,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
} as const satisfies Required<FetchSettings>;

export type FetchSettings = Omit<ConsumerOptions, 'groupId' | 'readUncommitted'>;

/** A consumer's fetch settings with the port's defaults filled in: what every client adapter passes on. */
export function fetchSettings(options: ConsumerOptions): Required<FetchSettings> {
  return {
    minBytes: options.minBytes ?? FETCH_DEFAULTS.minBytes,
    maxWaitTimeMs: options.maxWaitTimeMs ?? FETCH_DEFAULTS.maxWaitTimeMs,
    maxBytesPerPartition: options.maxBytesPerPartition ?? FETCH_DEFAULTS.maxBytesPerPartition,
    maxBytes: options.maxBytes ?? FETCH_DEFAULTS.maxBytes,
    sessionTimeoutMs: options.sessionTimeoutMs ?? FETCH_DEFAULTS.sessionTimeoutMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? FETCH_DEFAULTS.heartbeatIntervalMs,
  };
}

export interface FetchProgress {
  topic: string;
  partition: number;
  /** The next offset to fetch: one past the last offset the fetch covered. */
  nextOffset: string;
}

export interface BatchConsumer {
  connect(): Promise<void>;
  subscribe(topic: string, options: { fromBeginning: boolean }): Promise<void>;
  /**
   * Delivers batches one at a time; the next fetch waits for the handler (autoCommit off). The
   * handler resolves with nothing when it handled the whole batch, or, when it stopped early
   * (stopping, rebalance), with the offset of the last message it handled (null: none), so the
   * client fetches the rest again instead of skipping past it.
   */
  run(handler: (batch: FetchedBatch, control: BatchControl) => Promise<BatchHandled>): Promise<void>;
  commit(offsets: ReadonlyArray<{ topic: string; partition: number; offset: string }>): Promise<void>;
  /**
   * Fetches `partition` from `offset` next (a batch in progress is not affected; the handler
   * returns null for it). Nothing is committed.
   */
  seek(topic: string, partition: number, offset: bigint): void;
  /** Stops fetching from every partition of `topic`; the membership stays, so commits still work. */
  pause(topic: string): void;
  /**
   * Called when the member learns the group is rebalancing, just before it rejoins (kafkajs does
   * not wait for the listener): the last moment to save and commit what it may give up.
   */
  onRebalancing?(listener: () => void): void;
  /** Called with this member's partitions after every group join. */
  onAssignment(listener: (assignment: ReadonlyArray<{ topic: string; partitions: number[] }>) => void): void;
  /**
   * Called after each fetched batch of a partition has been handled, with the offset this member
   * fetches next. Also for fetches whose records were all skipped (transaction markers, aborted
   * records) and never reach the handler, so a reader can tell when it has reached an offset.
   */
  onProgress(listener: (progress: FetchProgress) => void): void;
  /** Number of group joins since connect (a rebalance adds one). */
  readonly groupJoins: number;
  disconnect(): Promise<void>;
}

export interface ProducedMessage {
  key?: string | Buffer | null;
  value: Buffer | string | null;
  partition?: number;
  timestamp?: string;
  headers?: Record<string, string | Buffer>;
}

export interface Producer {
  connect(): Promise<void>;
  send(topic: string, messages: ProducedMessage[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** Producer settings; every producer waits for all in-sync replicas (acks=all). */
export interface ProducerOptions {
  /** Idempotent (retries never duplicate within a session): one request in flight, acks=all. */
  idempotent?: boolean;
}

/** One Kafka transaction: records and consumer offsets that become visible together, or not at all. */
export interface ProducerTransaction {
  send(topic: string, messages: ProducedMessage[]): Promise<void>;
  /** Commits `offsets` (next offset to read) for `groupId` as part of this transaction. */
  sendOffsets(groupId: string, offsets: ReadonlyArray<{ topic: string; partition: number; offset: string; metadata?: string }>): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * A transactional producer. `connect` registers its transactional id with the coordinator,
 * which fences every older producer with the same id (a zombie instance) and aborts its open
 * transaction.
 */
export interface TransactionalProducer {
  readonly transactionalId: string;
  connect(): Promise<void>;
  /** One transaction at a time per producer. */
  transaction(): Promise<ProducerTransaction>;
  disconnect(): Promise<void>;
}

export interface Admin {
  connect(): Promise<void>;
  /** `config`: topic configs, e.g. { 'cleanup.policy': 'compact' } for a table's topic. */
  createTopic(topic: string, options: { partitions: number; config?: Record<string, string> }): Promise<void>;
  /**
   * Per partition: `high`, the high watermark (the offset the next message gets, so the number
   * of messages ever written), and `low`, the earliest offset still held (retention and
   * compaction move it forward).
   */
  topicEndOffsets(topic: string): Promise<Array<{ partition: number; high: string; low: string }>>;
  /** `metadata`: what the commit stored with the offset (transactional sinks store their checkpoint's id). */
  committedOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: string; metadata?: string | null }>>;
  /** Sets a group's committed offsets; the group must have no active member. */
  setCommittedOffsets(groupId: string, offsets: ReadonlyArray<{ topic: string; partition: number; offset: string }>): Promise<void>;
  /** The topic's number of partitions, or undefined when the cluster has no such topic. */
  partitionCount(topic: string): Promise<number | undefined>;
  disconnect(): Promise<void>;
}

export interface KafkaClient {
  consumer(options: ConsumerOptions): BatchConsumer;
  producer(options?: ProducerOptions): Producer;
  /** Absent on clients without transactions (test doubles): exactly-once sinks refuse to start there. */
  transactionalProducer?(transactionalId: string): TransactionalProducer;
  admin(): Admin;
}
