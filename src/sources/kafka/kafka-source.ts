import { ConfigError, ConnectionError, errorMessage } from '../../core/errors.ts';
import { toMillis } from '../../core/duration.ts';
import { retry } from '../../core/retry.ts';
import { OffsetTracker } from '../../core/offset-tracker.ts';
import { ConsumerLag, endOffsetsPollMs } from './consumer-lag.ts';
import type { Decoder } from '../../serde/decoder.ts';
import { createDecoder } from '../../serde/create-decoder.ts';
import { LocalSchemaRegistry } from '../../serde/schema-registry.ts';
import type { Source, SourceContext, SourceEnvironment, SourceSpec } from '../source.ts';
import { createKafkaClient } from '../../kafka/create-kafka-client.ts';
import type { Admin, BatchConsumer, BatchControl, BatchHandled, FetchedBatch, KafkaClient } from '../../kafka/kafka-client.ts';
import { OFFSET_GAP_POLICIES } from './offset-gaps.ts';
import type { GapGuard } from './gap-guard.ts';
import { watchOffsetResets } from './gap-report.ts';
import { createGapGuard, restoreGapOffsets } from './source-gaps.ts';
import { traceDecode } from './decode-trace.ts';
import { prefetchSchemas } from './schema-prefetch.ts';
import { decodeChunk } from './decode-chunk.ts';
import type { KafkaTopicOptions } from './kafka-topic-options.ts';

export type { KafkaTopicOptions } from './kafka-topic-options.ts';

/**
 * A Kafka topic read by a consumer group: one batch per partition fetch, decoded in place,
 * undecodable records dead-lettered with their bytes, offsets committed on a timer only up to
 * what every sink acknowledged.
 *
 * @example kafkaTopic({ topic: 'payments', format: 'avro-confluent', eventTime: (p) => p.ts })
 */
export function kafkaTopic<T>(options: KafkaTopicOptions<T>): SourceSpec<T> {
  if (!options.topic) throw new ConfigError('source.topic', 'no topic given', "set kafkaTopic({ topic: 'payments', ... })");
  if (options.onOffsetGap !== undefined && !OFFSET_GAP_POLICIES.includes(options.onOffsetGap)) {
    throw new ConfigError('source.onOffsetGap', `"${String(options.onOffsetGap)}" is not a policy`, "use 'fail', 'earliest' or 'latest'");
  }
  const idleTimeoutMs = options.idleTimeout === false ? 0 : toMillis(options.idleTimeout ?? '30s', 'source.idleTimeout');
  return {
    description: `kafka topic ${options.topic}`,
    outOfOrdernessMs: toMillis(options.outOfOrderness ?? '5s', 'source.outOfOrderness'),
    idleTimeoutMs,
    eventTime: options.eventTime,
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    resumable: true,
    create: (environment) => new KafkaSource(options, environment, idleTimeoutMs),
  };
}

class KafkaSource<T> implements Source<T> {
  readonly description: string;
  private readonly options: KafkaTopicOptions<T>;
  private readonly environment: SourceEnvironment;
  private readonly tracker = new OffsetTracker();
  /** Per partition, the offset after the last record handed to the engine (see `unseen`). */
  private readonly nextOffset = new Map<string, bigint>();
  private consumer: BatchConsumer | null = null;
  /** Lag and pause metrics of the assigned partitions. */
  private lag: ConsumerLag | null = null;
  private admin: Admin | null = null;
  private adminConnected: Promise<Admin> | null = null;
  private gaps: GapGuard | null = null;
  private decoder: Decoder<T> | null = null;
  private context: SourceContext<T> | null = null;
  private commitTimer: NodeJS.Timeout | null = null;
  private committing: Promise<void> = Promise.resolve();
  private stopping = false;
  /** The batch handler in progress, so stop() can wait for it to hand over its last chunk. */
  private handling: Promise<BatchHandled> = Promise.resolve();

  constructor(
    options: KafkaTopicOptions<T>,
    environment: SourceEnvironment,
    private readonly idleTimeoutMs: number,
  ) {
    this.options = options;
    this.environment = environment;
    this.description = `kafka topic ${options.topic}`;
  }

  /** Group joins so far; more than one means a rebalance happened. */
  get groupJoins(): number {
    return this.consumer?.groupJoins ?? 0;
  }

  async start(context: SourceContext<T>): Promise<void> {
    const { environment, options } = this;
    const brokers = environment.kafkaBrokers;
    if (!brokers || brokers.length === 0) throw new ConfigError('KAFKA_BROKERS', 'no brokers configured for a Kafka source', 'set KAFKA_BROKERS=host:port');
    this.context = context;
    const local = LocalSchemaRegistry.fromDirectory(environment.schemasDir);
    const remote = environment.schemaRegistry;
    // With a Schema Registry, writer schemas come by id from it (prefetched per batch); files stay local.
    const registry = remote ? { byId: (id: number) => remote.byId(id), has: (f: string) => local.has(f), schema: (f: string) => local.schema(f), idOf: (f: string) => local.idOf(f) } : local;
    this.decoder = createDecoder<T>({ format: options.format, schema: options.schema, registry });
    // kafkajs moves an out-of-range fetch offset and only logs it: its log lines pass by the guard.
    const logger = watchOffsetResets(environment.logger, options.topic, (key) => this.gaps?.offsetReset(key));
    const client = options.client?.(brokers, { ...environment, logger }) ?? createKafkaClient({ brokers, clientId: `tributary-${environment.topology}`, logger, security: environment.kafkaSecurity, kind: environment.kafkaClient });
    const fetch = environment.fetch === undefined ? {} : { maxBytes: environment.fetch.maxBytes, maxBytesPerPartition: environment.fetch.maxBytesPerPartition };
    const consumer = client.consumer({ groupId: environment.groupId, ...fetch, ...options.consumer });
    this.consumer = consumer;
    const gaps = (this.gaps = createGapGuard({ topic: options.topic, policy: options.onOffsetGap, environment, context, admin: () => this.connectedAdmin(client), nextOffset: this.nextOffset }));
    const lag = (this.lag = new ConsumerLag(environment.metrics, environment.topology));
    await retry(() => consumer.connect(), {
      what: `connect to Kafka at ${brokers.join(',')}`,
      maxAttempts: 3,
      initialDelayMs: 1_000,
      onRetry: ({ attempt, delayMs, error }) => environment.logger.warn({ attempt, delayMs, err: errorMessage(error) }, `Kafka at ${brokers.join(',')} unreachable, retrying`),
    }).catch((error) => {
      // Credentials, mechanism or certificates: retrying cannot fix them, and the message says what to.
      if (error instanceof ConfigError) throw error;
      throw new ConnectionError('Kafka', `cannot reach brokers ${brokers.join(',')} (is the broker running? scripts/services.sh start)`, error, { retriesExhausted: true });
    });
    await this.requireTopic(client, brokers);
    await gaps.readCommittedOffsets().catch((error) => environment.logger.warn({ err: errorMessage(error) }, 'reading the committed offsets before the first fetch failed; gap checks read them later'));
    consumer.onProgress((progress) => lag.progressed(`${progress.topic}:${progress.partition}`, BigInt(progress.nextOffset)));
    // A partition with records it cannot fetch yet (a leader failing over) is behind, not idle:
    // counted idle, the others would push the watermark past its records and they would be late.
    if (context.behind) lag.onBehind(context.behind);
    consumer.onAssignment((assignment) => {
      const keys = assignment.flatMap(({ topic, partitions }) => partitions.map((partition) => `${topic}:${partition}`));
      environment.logger.info({ partitions: keys }, 'partitions assigned');
      environment.metrics.groupJoins.inc({ topology: environment.topology });
      const assigned = new Set(keys);
      this.tracker.retainOnly(assigned);
      // A partition that comes back starts from its checkpoint (context.prepare), not from where
      // this process was when it lost it.
      for (const key of [...this.nextOffset.keys()]) if (!assigned.has(key)) this.nextOffset.delete(key);
      lag.assign(keys);
      context.assigned(keys);
      gaps.assign(keys);
    });
    // Partitions may move: save the checkpoints and commit the offsets already acknowledged, so
    // their next owner starts as late as possible (best effort: a commit during the rebalance may
    // be refused; the checkpoints then still cover it).
    consumer.onRebalancing?.(() => void this.commit());
    await consumer.subscribe(options.topic, { fromBeginning: options.fromBeginning ?? true });
    // One handler at a time, even across a consumer restart (kafkajs restarts its runner after a
    // broker failure while an old handler may still wait for room): a second one running
    // alongside would hand over records out of offset order, and the older ones would be late.
    await consumer.run((batch, control) => (this.handling = this.handling.catch(() => null).then(() => this.handleBatch(batch, control))));
    this.commitTimer = setInterval(() => void this.commit(), environment.commitIntervalMs);
    this.commitTimer.unref();
    this.pollEndOffsets(client, lag);
  }

  /** The one admin client (topic check, gap checks, lag poll), connected once. */
  private connectedAdmin(client: KafkaClient): Promise<Admin> {
    const admin = (this.admin ??= client.admin());
    this.adminConnected ??= admin.connect().then(
      () => admin,
      (error: unknown) => {
        this.adminConnected = null;
        throw error;
      },
    );
    return this.adminConnected;
  }

  /**
   * A missing topic fails the start with what to do (kafkajs would stop later with "This server
   * does not host this topic-partition"). The admin client stays for the lag poll.
   */
  private async requireTopic(client: KafkaClient, brokers: string[]): Promise<void> {
    const { topic } = this.options;
    const admin = await this.connectedAdmin(client);
    const partitions = await admin.partitionCount(topic);
    if (partitions === undefined) {
      throw new ConfigError(
        'source.topic',
        `topic "${topic}" does not exist on the Kafka cluster at ${brokers.join(',')}`,
        `create it (e.g. kafka-topics.sh --bootstrap-server ${brokers[0]} --create --topic ${topic} --partitions 3), or set auto.create.topics.enable=true on the brokers and produce to it first; or point the topology's kafkaTopic({ topic }) at an existing topic`,
      );
    }
  }

  /** End offsets from the admin API, so lag stays current while fetching waits. */
  private pollEndOffsets(client: KafkaClient, lag: ConsumerLag): void {
    lag.pollEndOffsets(
      this.options.topic,
      async () => (await this.connectedAdmin(client)).topicEndOffsets(this.options.topic),
      endOffsetsPollMs(this.idleTimeoutMs),
      this.environment.logger,
    );
  }

  /**
   * Decodes one fetched batch in chunks and hands each to the engine, waiting while it is full.
   * Resolves with the last offset handed over when it stopped early (see BatchConsumer.run).
   */
  private async handleBatch(batch: FetchedBatch, control: BatchControl): Promise<BatchHandled> {
    const context = this.context!;
    const decoder = this.decoder!;
    const selectEventTime = this.options.eventTime;
    const { topic, partition } = batch;
    const partitionKey = `${topic}:${partition}`;
    if (batch.messages.length === 0) return;
    const decision = await this.gaps!.decide(partitionKey, BigInt(batch.messages[0]!.offset));
    if (decision.kind === 'fail') return null; // stopping: nothing handed over, nothing committed
    if (decision.kind === 'seek') {
      this.consumer!.seek(topic, partition, decision.offset);
      return null;
    }
    const messages = await this.unseen(partitionKey, batch.messages);
    if (this.environment.schemaRegistry && !(await prefetchSchemas(this.environment.schemaRegistry, messages, this.environment.logger))) return null;
    const limits = { maxRecords: this.environment.maxChunkRecords, maxBytes: this.environment.maxChunkBytes ?? Infinity };
    const tracer = this.environment.tracer;
    const keepAlive = () => control.heartbeat().catch((error) => this.environment.logger.warn({ err: errorMessage(error) }, 'heartbeat failed while waiting for room'));
    for (let start = 0, next = 0; start < messages.length; start = next) {
      // Records not handed over are not tracked, so they are not committed and are read again.
      if (this.stopping || !control.isRunning() || control.isStale()) return start === 0 ? null : messages[start - 1]!.offset;
      const startedAt = tracer === undefined ? 0 : performance.timeOrigin + performance.now();
      const { records, deadLetters, maxEventTime, end, bytes } = decodeChunk(messages, start, limits, decoder, selectEventTime, topic, partition);
      next = end;
      const trace = tracer === undefined ? undefined : traceDecode(tracer, messages, start, end, startedAt, { topic, partition, records: records.length, deadLetters: deadLetters.length });
      const lastOffset = BigInt(messages[end - 1]!.offset);
      const token = this.tracker.track(topic, partition, lastOffset, end - start);
      this.nextOffset.set(partitionKey, lastOffset + 1n);
      const lag = this.lag!;
      lag.waiting = true; // seen by a scrape only while the push waits for room (backpressure)
      try {
        await context.push(trace === undefined ? { partitionKey, records, deadLetters, maxEventTime, token, bytes } : { partitionKey, records, deadLetters, maxEventTime, token, bytes, trace }, keepAlive);
      } finally {
        lag.waiting = false;
      }
      lag.handedOver(partitionKey, lastOffset + 1n, batch.highWatermark);
    }
  }

  /**
   * Drops records this process already handed to the engine, or that the checkpoint restored
   * for the partition covers. A rejoin after a broker restart or a rebalance makes the consumer fetch again from
   * the committed offset, which trails what was processed (commits wait for sinks and
   * checkpoints); processing those records again would count them twice in open windows.
   */
  private async unseen(partitionKey: string, messages: FetchedBatch['messages']): Promise<FetchedBatch['messages']> {
    let from = this.nextOffset.get(partitionKey);
    if (from === undefined) {
      from = (await this.context?.prepare?.(partitionKey)) ?? -1n;
      this.nextOffset.set(partitionKey, from);
    }
    if (messages.length === 0 || BigInt(messages[0]!.offset) >= from) return messages;
    const kept = messages.filter((message) => BigInt(message.offset) >= from);
    this.environment.logger.info({ partition: partitionKey, skipped: messages.length - kept.length, from: from.toString() }, 'skipped records already processed (redelivered after a rejoin, or in the restored checkpoint)');
    return kept;
  }

  async commit(): Promise<void> {
    // One commit at a time, in order.
    this.committing = this.committing.then(async () => {
      const consumer = this.consumer;
      if (!consumer) return;
      const gate = this.context?.commitGate;
      const offsets = gate ? this.tracker.notCommitted(await gate(this.tracker.acknowledged())) : this.tracker.pending();
      if (offsets.length === 0) return;
      try {
        await consumer.commit(offsets);
        this.tracker.markCommitted(offsets);
        for (const { topic, partition, offset } of offsets) {
          this.environment.metrics.committedOffset.set({ topology: this.environment.topology, topic, partition: String(partition) }, Number(offset));
        }
      } catch (error) {
        this.environment.metrics.commitFailures.inc({ topology: this.environment.topology });
        this.environment.logger.warn({ err: errorMessage(error), offsets }, 'offset commit failed; will retry on the next interval');
      }
    });
    return this.committing;
  }

  processingTime(): number {
    return Date.now();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.commitTimer) clearInterval(this.commitTimer);
    this.commitTimer = null;
    this.consumer?.pause(this.options.topic);
    await this.handling.catch(() => {});
  }

  async close(): Promise<void> {
    this.lag?.close();
    await this.consumer?.disconnect();
    this.consumer = null;
    await restoreGapOffsets(this.gaps, this.admin, this.environment);
    const admin = this.admin;
    this.admin = null;
    this.adminConnected = null;
    // Best effort: the lag poll's admin client may never have connected (or be a test double).
    await (async () => admin?.disconnect())().catch(() => {});
  }
}

