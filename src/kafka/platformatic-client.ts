import type { Producer as PltProducer } from '@platformatic/kafka';
import { ConfigError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { KafkaClient, ProducedMessage, Producer, ProducerOptions } from './kafka-client.ts';
import { createKafkajsClient } from './kafkajs-client.ts';
import type { KafkaSecurity } from './kafka-security.ts';
import { platformaticConsumer, type PlatformaticModule } from './platformatic-consumer.ts';

export interface PlatformaticClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  security?: KafkaSecurity;
}

// Loaded on the first connect, so processes on the default client (kafkajs) never load it.
let loaded: Promise<PlatformaticModule> | null = null;
const load = (): Promise<PlatformaticModule> => (loaded ??= import('@platformatic/kafka'));

const toBuffer = (data: string | Buffer | null | undefined): Buffer | undefined => (data == null ? undefined : typeof data === 'string' ? Buffer.from(data) : data);

/**
 * KafkaClient over @platformatic/kafka 1.x (TRIBUTARY_KAFKA_CLIENT=platformatic, under evaluation).
 * Consumer and producer are its own; admin calls and transactional producers stay on kafkajs
 * (off the hot path). TLS and SASL are not wired for it: a secured cluster is refused.
 */
export function createPlatformaticClient(options: PlatformaticClientOptions): KafkaClient {
  if (options.security !== undefined) {
    throw new ConfigError('TRIBUTARY_KAFKA_CLIENT', `the platformatic Kafka client does not support KAFKA_SECURITY_PROTOCOL=${options.security.protocol} here`, 'unset TRIBUTARY_KAFKA_CLIENT (or set it to kafkajs) for a secured cluster');
  }
  let kafkajs: KafkaClient | null = null;
  const fallback = () => (kafkajs ??= createKafkajsClient(options));
  const base = { clientId: options.clientId, brokers: options.brokers, logger: options.logger };
  return {
    consumer: (consumerOptions) => platformaticConsumer(load, base, consumerOptions),
    producer: (producerOptions) => platformaticProducer(base, producerOptions),
    transactionalProducer: (transactionalId) => fallback().transactionalProducer!(transactionalId),
    admin: () => fallback().admin(),
  };
}

function platformaticProducer(base: { clientId: string; brokers: string[] }, options: ProducerOptions = {}): Producer {
  let producer: PltProducer<Buffer, Buffer, string, Buffer> | null = null;
  const toRecord = (topic: string, m: ProducedMessage) => {
    const headers: Record<string, Buffer> | undefined = m.headers && Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, toBuffer(v)!]));
    return { topic, key: toBuffer(m.key), value: toBuffer(m.value)!, ...(m.partition === undefined ? {} : { partition: m.partition }), ...(m.timestamp === undefined ? {} : { timestamp: BigInt(m.timestamp) }), ...(headers ? { headers } : {}) };
  };
  return {
    connect: async () => {
      const kafka = await load();
      producer = new kafka.Producer({ clientId: base.clientId, bootstrapBrokers: base.brokers, idempotent: options.idempotent ?? false, acks: kafka.ProduceAcks.ALL, autocreateTopics: false, connectTimeout: 3_000, retries: 5, serializers: { headerKey: kafka.stringSerializer } });
      await producer.metadata({ topics: [] });
    },
    send: async (topic, messages) => {
      await producer!.send({ messages: messages.map((m) => toRecord(topic, m)) });
    },
    disconnect: async () => {
      await producer?.close();
    },
  };
}
