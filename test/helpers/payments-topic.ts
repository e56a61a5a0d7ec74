import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import type { Admin, Producer } from '../../src/kafka/kafka-client.ts';
import { createAvroEncoder } from '../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { SCHEMAS_DIR, uniqueName } from './services.ts';

/**
 * A fresh payments topic on a real broker, with a connected admin and producer and the Avro
 * (Confluent wire) encoder of payment.avsc: what the card-fraud integration and fault tests share.
 */
export interface PaymentsTopic {
  topic: string;
  admin: Admin;
  producer: Producer;
  encode: (payment: Payment) => Buffer;
  /** Produces `payments` keyed by card (each card stays in its partition's order), in sends of 1,000. */
  send(payments: readonly Payment[]): Promise<void>;
  /**
   * One event per partition `afterMs` past the last of `payments` (card `watermark-<partition>`),
   * which moves every partition's watermark past every window of `payments`.
   */
  sendWatermarkEvents(payments: readonly Payment[], afterMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function createPaymentsTopic(brokers: string[], options: { partitions: number; name?: string }): Promise<PaymentsTopic> {
  const topic = uniqueName(options.name ?? 'payments');
  const kafka = createKafkajsClient({ brokers, clientId: `test-${topic}`, logger: silentLogger });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopic(topic, { partitions: options.partitions });
  const producer = kafka.producer();
  await producer.connect();
  const encoder = createAvroEncoder<Payment>({ wire: 'confluent', registry: LocalSchemaRegistry.fromDirectory(SCHEMAS_DIR), schema: 'payment.avsc' });
  const encode = (payment: Payment) => encoder.encode(payment);
  return {
    topic,
    admin,
    producer,
    encode,
    async send(payments) {
      for (let i = 0; i < payments.length; i += 1_000) await producer.send(topic, payments.slice(i, i + 1_000).map((p) => ({ key: p.cardId, value: encode(p) })));
    },
    async sendWatermarkEvents(payments, afterMs = 10 * 60_000) {
      let maxTs = -Infinity;
      for (const p of payments) if (p.ts > maxTs) maxTs = p.ts;
      const events = Array.from({ length: options.partitions }, (_, partition): Payment => ({ ...payments[0]!, paymentId: `advance-${partition}`, cardId: `watermark-${partition}`, ts: maxTs + afterMs }));
      await producer.send(topic, events.map((p, partition) => ({ key: p.cardId, value: encode(p), partition })));
    },
    async close() {
      await producer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
    },
  };
}
