import type { AckToken } from '../../core/ack.ts';
import type { StreamRecord } from '../../core/batch.ts';
import { ConfigError } from '../../core/errors.ts';
import type { KafkaClient, ProducedMessage, Producer } from '../../kafka/kafka-client.ts';
import { LocalSchemaRegistry } from '../../serde/schema-registry.ts';
import { BatchingSink } from '../batching-sink.ts';
import type { Sink, SinkEnvironment, SinkSpec } from '../sink.ts';
import { MESSAGES_PER_SEND, TopicRecords, encodeFailures, type KafkaTopicSinkOptions } from './topic-records.ts';
import { TransactionalTopicSink } from './transactional-topic-sink.ts';

export type { KafkaTopicSinkOptions, KafkaDelivery } from './topic-records.ts';


/**
 * A topology output to a Kafka topic: key, value (Avro in the Confluent wire format, or JSON) and
 * provenance headers (tributary-topology, -event-time, and -source/-offset for records read
 * straight from a topic). At-least-once by default (idempotent producer, acks=all; the engine
 * commits offsets after the produce ack, so a restart may produce a record twice); with
 * `delivery: 'exactly-once'`, records and the source offsets they complete are committed in one
 * Kafka transaction per partition and checkpoint (read them with isolation read_committed).
 *
 * @example sinks: { predictions: [kafkaTopicSink('fraud-predictions', { schema: 'fraud_prediction.avsc', key: (p) => p.cardId, delivery: 'exactly-once' })] }
 */
export function kafkaTopicSink<T>(topic: string, options: KafkaTopicSinkOptions<T> = {}): SinkSpec<StreamRecord<T>> {
  return {
    description: `kafka topic ${topic} (${options.delivery ?? 'at-least-once'})`,
    kind: 'kafka',
    destination: topic,
    create: (environment) => {
      const records = new TopicRecords<T>(topic, environment.topology, options, () => LocalSchemaRegistry.fromDirectory(environment.schemasDir));
      const client = () => {
        if (!environment.kafkaClient) throw new ConfigError('KAFKA_BROKERS', `the Kafka topic sink ${topic} needs a broker`, 'set KAFKA_BROKERS=host:port');
        return environment.kafkaClient();
      };
      if (options.delivery === 'exactly-once') return new TransactionalTopicSink<T>(topic, records, environment, client);
      return new AtLeastOnceTopicSink<T>(topic, records, environment, client, options);
    },
  };
}

class AtLeastOnceTopicSink<T> implements Sink<StreamRecord<T>> {
  readonly name: string;
  private readonly batches: MessageBatches;

  constructor(
    topic: string,
    private readonly records: TopicRecords<T>,
    private readonly environment: SinkEnvironment,
    client: () => KafkaClient,
    options: KafkaTopicSinkOptions<T>,
  ) {
    this.name = `kafka:${topic}`;
    this.batches = new MessageBatches(topic, environment, client, options);
  }

  async open(): Promise<void> {
    await this.records.open(this.environment.schemaRegistry?.());
    await this.batches.open();
  }

  write(rows: readonly StreamRecord<T>[], acks: readonly AckToken[]): void {
    const { failed, route } = encodeFailures<T>(this.batches.topic, this.environment);
    const messages = this.records.messages(rows, failed);
    route(acks);
    if (messages.length > 0) this.batches.write(messages, acks);
  }

  isFull(): boolean {
    return this.batches.isFull();
  }

  whenReady(): Promise<void> {
    return this.batches.whenReady();
  }

  flush(): Promise<void> {
    return this.batches.flush();
  }

  close(): Promise<void> {
    return this.batches.close();
  }
}

/** Encoded messages, batched and sent by an idempotent producer (acks=all); acks released after the send. */
class MessageBatches extends BatchingSink<ProducedMessage> {
  private producer: Producer | null = null;

  constructor(
    readonly topic: string,
    environment: SinkEnvironment,
    private readonly client: () => KafkaClient,
    options: { maxRows?: number; maxDelayMs?: number },
  ) {
    super({ name: `kafka:${topic}`, topology: environment.topology, logger: environment.logger, metrics: environment.metrics, maxRows: options.maxRows ?? MESSAGES_PER_SEND, maxDelayMs: options.maxDelayMs ?? 200, onFatal: environment.fail });
  }

  override async open(): Promise<void> {
    const producer = this.client().producer({ idempotent: true });
    await producer.connect();
    this.producer = producer;
  }

  protected async writeRows(messages: ProducedMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += MESSAGES_PER_SEND) await this.producer!.send(this.topic, messages.slice(i, i + MESSAGES_PER_SEND));
  }

  override async close(): Promise<void> {
    await super.close();
    await this.producer?.disconnect().catch(() => {});
  }
}
