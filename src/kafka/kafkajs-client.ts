import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import type { Admin, BatchConsumer, ConsumerOptions, FetchProgress, KafkaClient, ProducedMessage, Producer, ProducerOptions, TransactionalProducer } from './kafka-client.ts';
import { fetchSettings } from './kafka-client.ts';
import { kafkajsSecurity, usesTls, withSecurityErrors, type KafkaSecurity } from './kafka-security.ts';
import { checkBrokerTls } from './tls-check.ts';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

const CONNECTION_TIMEOUT_MS = 3_000;

export interface KafkajsClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** TLS and SASL (KAFKA_SECURITY_PROTOCOL and friends); absent: PLAINTEXT. */
  security?: KafkaSecurity;
}

/**
 * KafkaClient over kafkajs 2.2 (pure JS; in maintenance mode upstream). The one place a kafkajs
 * client is built, so every Kafka user (sources, tables, dead-letter producers, admin calls,
 * benchmarks) gets the same security settings. A connect that fails for a reason retrying cannot
 * fix (credentials, an untrusted certificate) rejects with a ConfigError after one attempt.
 */
export function createKafkajsClient(options: KafkajsClientOptions): KafkaClient {
  const { security } = options;
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ...kafkajsSecurity(security),
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    // Bounded, so an unreachable broker is reported within a minute instead of retried for ever.
    retry: { initialRetryTime: 300, retries: 5, maxRetryTime: 5_000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log;
      options.logger[LEVELS[entry.level] ?? 'info']({ kafka: entry.namespace, ...extra }, message);
    },
  });

  // kafkajs retries a failed TLS handshake like a broker that is down: one checked handshake per
  // client, before its first connect, turns a certificate problem into a ConfigError instead.
  let tlsChecked: Promise<void> | null = null;
  const checkTls = (): Promise<void> =>
    (tlsChecked ??= checkBrokerTls(options.brokers[0]!, security!, CONNECTION_TIMEOUT_MS).then((problem) => {
      if (problem) throw problem;
    }));
  const connect = async (connectClient: () => Promise<void>): Promise<void> => {
    if (usesTls(security)) await checkTls();
    await withSecurityErrors(connectClient(), security);
  };
  return {
    consumer: (consumerOptions) => kafkajsConsumer(kafka, consumerOptions, connect),
    producer: (producerOptions) => kafkajsProducer(kafka, connect, producerOptions),
    transactionalProducer: (transactionalId) => kafkajsTransactionalProducer(kafka, connect, transactionalId),
    admin: () => kafkajsAdmin(kafka, connect),
  };
}

type Connect = (connectClient: () => Promise<void>) => Promise<void>;

function kafkajsConsumer(kafka: Kafka, options: ConsumerOptions, connect: Connect): BatchConsumer {
  const settings = fetchSettings(options);
  const consumer = kafka.consumer({
    groupId: options.groupId,
    minBytes: settings.minBytes,
    maxWaitTimeInMs: settings.maxWaitTimeMs,
    maxBytesPerPartition: settings.maxBytesPerPartition,
    maxBytes: settings.maxBytes,
    sessionTimeout: settings.sessionTimeoutMs,
    heartbeatInterval: settings.heartbeatIntervalMs,
    allowAutoTopicCreation: false,
    readUncommitted: options.readUncommitted ?? false,
  });
  const listeners: Array<(assignment: Array<{ topic: string; partitions: number[] }>) => void> = [];
  const progressListeners: Array<(progress: FetchProgress) => void> = [];
  let groupJoins = 0;
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    groupJoins++;
    const assignment = Object.entries(event.payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions: partitions as number[] }));
    for (const listener of listeners) listener(assignment);
  });
  const progressed = (topic: string, partition: number, lastOffset: string) => {
    const progress: FetchProgress = { topic, partition, nextOffset: (BigInt(lastOffset) + 1n).toString() };
    for (const listener of progressListeners) listener(progress);
  };
  // kafkajs emits this after every batch, also for fetches whose records were all filtered out
  // (control records, aborted ones), which never reach the handler: those are reported here, the
  // others after the handler, up to what it handled (its payload would claim the whole batch).
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (progressListeners.length > 0 && payload.batchSize === 0 && payload.lastOffset != null) progressed(payload.topic, payload.partition, payload.lastOffset);
  });

  return {
    connect: () => connect(() => consumer.connect()),
    subscribe: (topic, { fromBeginning }) => consumer.subscribe({ topics: [topic], fromBeginning }),
    run: (handler) =>
      consumer.run({
        autoCommit: false,
        // Resolved here, not automatically: a handler that stopped early (rebalance, stop) must
        // not have the rest of its batch marked as consumed, or this session would skip it.
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
          const handled = await handler({ topic: batch.topic, partition: batch.partition, messages: batch.messages, highWatermark: batch.highWatermark }, { heartbeat, isRunning, isStale });
          if (handled === null) return;
          const last = handled ?? (batch.messages.length > 0 ? batch.lastOffset() : null);
          if (last === null) return;
          resolveOffset(last);
          if (progressListeners.length > 0) progressed(batch.topic, batch.partition, last);
        },
      }),
    commit: (offsets) => consumer.commitOffsets(offsets.map((o) => ({ ...o }))),
    seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset: offset.toString() }),
    // kafkajs forgets its consumer group on stop(), after which commits fail; pausing keeps it.
    pause: (topic) => consumer.pause([{ topic }]),
    onAssignment: (listener) => listeners.push(listener),
    onRebalancing: (listener) => consumer.on(consumer.events.REBALANCING, () => listener()),
    onProgress: (listener) => progressListeners.push(listener),
    get groupJoins() {
      return groupJoins;
    },
    disconnect: () => consumer.disconnect(),
  };
}

const toKafkajs = (messages: ProducedMessage[]) => messages.map((m) => ({ key: m.key ?? null, value: m.value, partition: m.partition, timestamp: m.timestamp, headers: m.headers }));

function kafkajsProducer(kafka: Kafka, connect: Connect, options: ProducerOptions = {}): Producer {
  // Idempotence needs one request in flight per connection in kafkajs 2.2.
  const producer = kafka.producer({ allowAutoTopicCreation: false, ...(options.idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {}) });
  return {
    connect: () => connect(() => producer.connect()),
    send: async (topic, messages) => {
      await producer.send({ topic, acks: -1, messages: toKafkajs(messages) });
    },
    disconnect: () => producer.disconnect(),
  };
}

function kafkajsTransactionalProducer(kafka: Kafka, connect: Connect, transactionalId: string): TransactionalProducer {
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1, transactionalId, transactionTimeout: 60_000 });
  return {
    transactionalId,
    connect: async () => {
      await connect(() => producer.connect());
      // kafkajs sends InitProducerId (which fences older producers with this id and aborts their
      // open transaction) on the first transaction, not on connect: an empty one does it now.
      await (await producer.transaction()).abort();
    },
    transaction: async () => {
      const transaction = await producer.transaction();
      return {
        send: async (topic, messages) => {
          await transaction.send({ topic, acks: -1, messages: toKafkajs(messages) });
        },
        sendOffsets: async (groupId, offsets) => {
          const topics = [...new Set(offsets.map((o) => o.topic))].map((topic) => ({ topic, partitions: offsets.filter((o) => o.topic === topic).map(({ partition, offset, metadata }) => ({ partition, offset, metadata: metadata ?? null })) }));
          // kafkajs passes each partition's metadata through to TxnOffsetCommit; its types omit it.
          await transaction.sendOffsets({ consumerGroupId: groupId, topics: topics as Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> });
        },
        commit: () => transaction.commit(),
        abort: () => transaction.abort(),
      };
    },
    disconnect: () => producer.disconnect(),
  };
}

function kafkajsAdmin(kafka: Kafka, connect: Connect): Admin {
  const admin = kafka.admin();
  return {
    connect: () => connect(() => admin.connect()),
    createTopic: async (topic, { partitions, config }) => {
      const configEntries = Object.entries(config ?? {}).map(([name, value]) => ({ name, value }));
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }], waitForLeaders: true });
    },
    topicEndOffsets: async (topic) => (await admin.fetchTopicOffsets(topic)).map(({ partition, high, low }) => ({ partition, high, low })),
    committedOffsets: async (groupId, topic) => {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return (entry?.partitions ?? []).map(({ partition, offset, metadata }) => ({ partition, offset, metadata }));
    },
    setCommittedOffsets: async (groupId, offsets) => {
      for (const topic of new Set(offsets.map((o) => o.topic))) {
        const partitions = offsets.filter((o) => o.topic === topic).map(({ partition, offset }) => ({ partition, offset }));
        await admin.setOffsets({ groupId, topic, partitions });
      }
    },
    partitionCount: async (topic) => {
      if (!(await admin.listTopics()).includes(topic)) return undefined;
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      return topics[0]?.partitions.length;
    },
    disconnect: () => admin.disconnect(),
  };
}
