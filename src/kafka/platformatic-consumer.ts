import type { Consumer as PltConsumer, Message as PltMessage, MessagesStream } from '@platformatic/kafka';
import type { Logger } from '../observability/logger.ts';
import type { BatchConsumer, BatchControl, BatchHandled, ConsumerOptions, FetchedBatch, FetchProgress, KafkaMessage } from './kafka-client.ts';
import { fetchSettings } from './kafka-client.ts';

/** What the consumer needs of the lazily imported module (type-only here, so nothing loads it early). */
export type PlatformaticModule = typeof import('@platformatic/kafka');

type Handler = (batch: FetchedBatch, control: BatchControl) => Promise<BatchHandled>;
type Assignment = ReadonlyArray<{ topic: string; partitions: number[] }>;

const toMessage = (m: PltMessage): KafkaMessage => {
  let headers: KafkaMessage['headers'];
  if (m.headers.size > 0) {
    headers = {};
    for (const [k, v] of m.headers) headers[k.toString()] = v;
  }
  return { offset: m.offset.toString(), key: m.key ?? null, value: m.value ?? null, timestamp: m.timestamp.toString(), ...(headers ? { headers } : {}) };
};

/**
 * BatchConsumer over a @platformatic/kafka MessagesStream. The stream hands over single records;
 * records arriving in one turn of the event loop are grouped per partition and given to the
 * handler one batch at a time, with the stream paused meanwhile, so fetching waits for the
 * handler (the stream stops fetching while paused or above its highWaterMark).
 * Offsets are committed only by commit() (autocommit off).
 */
export function platformaticConsumer(load: () => Promise<PlatformaticModule>, base: { clientId: string; brokers: string[]; logger: Logger }, options: ConsumerOptions): BatchConsumer {
  let consumer: PltConsumer | null = null;
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  let topic = '';
  let fromBeginning = true;
  let groupJoins = 0;
  let stopped = false;
  const assignmentListeners: Array<(assignment: Assignment) => void> = [];
  const rebalanceListeners: Array<() => void> = [];
  const progressListeners: Array<(progress: FetchProgress) => void> = [];
  /** Records received but not handed to the handler yet, per partition. */
  const pending = new Map<number, KafkaMessage[]>();
  /** Partitions sought: records are dropped until the one at this offset arrives (see seek). */
  const seeks = new Map<number, bigint>();
  const reported = new Map<number, bigint>();
  let draining = false;

  const emitProgress = (partition: number, nextOffset: bigint) => {
    if ((reported.get(partition) ?? -1n) >= nextOffset) return;
    reported.set(partition, nextOffset);
    const progress = { topic, partition, nextOffset: nextOffset.toString() };
    for (const listener of progressListeners) listener(progress);
  };

  const seek = (partition: number, offset: bigint) => {
    pending.delete(partition);
    seeks.set(partition, offset);
    reported.delete(partition);
    stream?.offsetsToFetch.set(`${topic}:${partition}`, offset);
  };

  const drain = async (handler: Handler) => {
    const s = stream!;
    s.pause();
    try {
      while (pending.size > 0 && !stopped) {
        const [partition, messages] = pending.entries().next().value as [number, KafkaMessage[]];
        pending.delete(partition);
        const generation = consumer!.generationId;
        const control: BatchControl = { heartbeat: async () => {}, isRunning: () => !stopped, isStale: () => consumer!.generationId !== generation };
        const handled = await handler({ topic, partition, messages }, control);
        const last = BigInt(messages[messages.length - 1]!.offset);
        if (handled === undefined) emitProgress(partition, last + 1n);
        else if (!stopped && !control.isStale()) seek(partition, handled === null ? BigInt(messages[0]!.offset) : BigInt(handled) + 1n);
      }
    } catch (error) {
      base.logger.error({ err: error instanceof Error ? error.message : String(error), topic }, 'Kafka batch handler failed');
    } finally {
      draining = false;
      if (!stopped) s.resume();
    }
  };

  return {
    connect: async () => {
      const kafka = await load();
      const settings = fetchSettings(options);
      consumer = new kafka.Consumer({
        clientId: base.clientId,
        bootstrapBrokers: base.brokers,
        groupId: options.groupId,
        autocommit: false,
        sessionTimeout: settings.sessionTimeoutMs,
        heartbeatInterval: settings.heartbeatIntervalMs,
        minBytes: settings.minBytes,
        maxWaitTime: settings.maxWaitTimeMs,
        maxBytesPerPartition: settings.maxBytesPerPartition,
        maxBytes: settings.maxBytes,
        isolationLevel: options.readUncommitted ? kafka.FetchIsolationLevels.READ_UNCOMMITTED : kafka.FetchIsolationLevels.READ_COMMITTED,
        connectTimeout: 3_000,
        retries: 5,
      });
      consumer.on('consumer:group:join', (payload) => {
        groupJoins++;
        const assignment = (payload.assignments ?? []).map((a) => ({ topic: a.topic, partitions: [...a.partitions] }));
        for (const listener of assignmentListeners) listener(assignment);
      });
      consumer.on('consumer:group:rebalance', () => {
        for (const listener of rebalanceListeners) listener();
      });
      await consumer.metadata({ topics: [] });
    },
    subscribe: async (subscribed, options) => {
      topic = subscribed;
      fromBeginning = options.fromBeginning;
    },
    run: async (handler) => {
      const s = (stream = await consumer!.consume({ topics: [topic], mode: 'committed', fallbackMode: fromBeginning ? 'earliest' : 'latest', autocommit: false }));
      s.on('data', (raw: PltMessage) => {
        const partition = raw.partition;
        const sought = seeks.get(partition);
        if (sought !== undefined) {
          // A fetch sent before the seek answers with records after it: drop them, fetch again.
          if (raw.offset !== sought) return void s.offsetsToFetch.set(`${topic}:${partition}`, sought);
          seeks.delete(partition);
        }
        let list = pending.get(partition);
        if (!list) pending.set(partition, (list = []));
        list.push(toMessage(raw));
        if (!draining) {
          draining = true;
          setImmediate(() => void drain(handler));
        }
      });
      s.on('error', (error) => base.logger.error({ err: error.message, topic }, 'Kafka consumer stream failed'));
    },
    commit: async (offsets) => {
      if (offsets.length === 0) return;
      await consumer!.commit({ offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset), leaderEpoch: -1 })) });
    },
    seek: (_topic, partition, offset) => seek(partition, offset),
    pause: () => {
      stopped = true;
      stream?.pause();
    },
    onAssignment: (listener) => void assignmentListeners.push(listener),
    onRebalancing: (listener) => void rebalanceListeners.push(listener),
    onProgress: (listener) => void progressListeners.push(listener),
    get groupJoins() {
      return groupJoins;
    },
    disconnect: async () => {
      stopped = true;
      await stream?.close().catch(() => {});
      await consumer?.close(true);
    },
  };
}
