import type { KafkaClient } from './kafka-client.ts';
import { createKafkajsClient, type KafkajsClientOptions } from './kafkajs-client.ts';
import { createPlatformaticClient } from './platformatic-client.ts';

/** The Kafka client libraries behind the KafkaClient port (TRIBUTARY_KAFKA_CLIENT). */
export const KAFKA_CLIENT_KINDS = ['kafkajs', 'platformatic'] as const;
export type KafkaClientKind = (typeof KAFKA_CLIENT_KINDS)[number];

/** The engine's Kafka client: kafkajs unless TRIBUTARY_KAFKA_CLIENT chose another. */
export function createKafkaClient(options: KafkajsClientOptions & { kind?: KafkaClientKind }): KafkaClient {
  const { kind, ...rest } = options;
  return kind === 'platformatic' ? createPlatformaticClient(rest) : createKafkajsClient(rest);
}
