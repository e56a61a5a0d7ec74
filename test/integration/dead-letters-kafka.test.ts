import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import { createAvroEncoder } from '../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { clickhouse, engineConfig, queryRows, SCHEMAS_DIR, uniqueName, waitFor } from '../helpers/services.ts';

const VALID = 2_000;

/** A payment_v2 record whose riskFlags array claims 100,000,000 items in the last byte's place. */
function blockCountAttack(v2: Buffer): Buffer {
  // A valid v2 record with riskFlags [] ends with the array terminator 0x00; replace it by the
  // zig-zag varint of 100,000,000 (what made avsc allocate until Node aborted).
  assert.equal(v2[v2.length - 1], 0);
  const count = 100_000_000 * 2;
  const varint: number[] = [];
  let rest = count;
  while (rest >= 0x80) {
    varint.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  varint.push(rest);
  return Buffer.concat([v2.subarray(0, v2.length - 1), Buffer.from(varint)]);
}

test('bad records go to the dead-letter table with provenance and raw bytes; every other record is processed', { timeout: 120_000 }, async (t) => {
  const topic = uniqueName('payments_dlq');
  const dlqTopic = `${topic}.dlq`;
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig();
  const kafka = createKafkajsClient({ brokers: config.kafkaBrokers!, clientId: 'dlq-test', logger: silentLogger });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopic(topic, { partitions: 1 });
  await admin.createTopic(dlqTopic, { partitions: 1 });
  const producer = kafka.producer();
  await producer.connect();
  const ch = clickhouse();
  const registry = LocalSchemaRegistry.fromDirectory(SCHEMAS_DIR);
  const v1 = createAvroEncoder<Payment>({ wire: 'confluent', registry, schema: 'payment.avsc' });
  const v2 = createAvroEncoder<Payment & { riskFlags: string[] }>({ wire: 'confluent', registry, schema: 'payment_v2.avsc' });
  const generator = new CardPaymentModel({ seed: 9, lateShare: 0 });
  const start = Date.UTC(2026, 10, 2);
  const payments = Array.from({ length: VALID }, (_, i) => generator.next(start + i * 100).payment);

  // Interleave: every 200th position carries a bad record of one of four kinds.
  const unknownId = Buffer.from(v1.encode(payments[0]!));
  unknownId.writeUInt32BE(999, 1);
  const bad: Array<{ kind: string; value: Buffer | null }> = [
    { kind: 'garbage', value: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff, 0x00, 0x80]) },
    { kind: 'unknown schema id', value: unknownId },
    { kind: 'block count', value: blockCountAttack(v2.encode({ ...payments[1]!, riskFlags: [] })) },
    { kind: 'tombstone', value: null },
  ];
  const messages: Array<{ value: Buffer | null; bad?: string }> = [];
  payments.forEach((p, i) => {
    if (i % 200 === 100) {
      const b = bad[(i / 200) % bad.length | 0]!;
      messages.push({ value: b.value, bad: b.kind });
    }
    // Every 100th valid record uses schema v2 (with an array), which must decode normally.
    messages.push({ value: i % 100 === 0 ? v2.encode({ ...p, riskFlags: ['new-device'] }) : v1.encode(p) });
  });
  const badOffsets = messages.flatMap((m, offset) => (m.bad ? [{ offset, kind: m.bad, value: m.value }] : []));
  assert.equal(badOffsets.length, 10);

  const engine = await Engine.start(createCardFraudTopology({ topic, tablePrefix: prefix, deadLetterTopic: dlqTopic }), { config, logger: silentLogger, push: false });
  t.after(async () => {
    await engine.stop();
    await producer.disconnect();
    await admin.disconnect();
    await ch.close();
  });
  await producer.send(topic, messages.map((m) => ({ value: m.value })));

  await waitFor('raw payments', () => count(ch, `${prefix}payments`), (n) => n >= VALID, 60_000);
  await waitFor('dead letters', () => count(ch, `${prefix}dead_letters`), (n) => n >= badOffsets.length, 30_000);
  assert.equal(await count(ch, `${prefix}payments`), VALID);

  const letters = await queryRows<{ step: string; topic: string; partition: number; offset: string; error: string; raw_base64: string; raw_size: number }>(
    ch,
    `SELECT step, topic, partition, offset, error, raw_base64, raw_size FROM ${prefix}dead_letters ORDER BY toUInt64(offset)`,
  );
  assert.equal(letters.length, badOffsets.length);
  letters.forEach((letter, i) => {
    const expected = badOffsets[i]!;
    assert.equal(letter.step, 'decode');
    assert.equal(letter.topic, topic);
    assert.equal(Number(letter.partition), 0);
    assert.equal(letter.offset, String(expected.offset));
    assert.equal(Buffer.from(letter.raw_base64, 'base64').equals(expected.value ?? Buffer.alloc(0)), true, `raw bytes of offset ${expected.offset}`);
    assert.equal(Number(letter.raw_size), expected.value?.length ?? 0);
    const pattern = { garbage: /magic byte/, 'unknown schema id': /unknown schema id 999/, 'block count': /block count 100000000/, tombstone: /no value/ }[expected.kind]!;
    assert.match(letter.error, pattern, `${expected.kind} at ${expected.offset}: ${letter.error}`);
  });

  const metrics = await engine.metrics.registry.getSingleMetricAsString('tributary_dead_letters_total');
  assert.match(metrics, /tributary_dead_letters_total\{topology="card-fraud",step="decode"\} 10\b/);
  assert.equal(engine.stats().processedRecords, VALID);

  // The same dead letters on the Kafka topic: the original bytes, provenance in headers.
  const received = await readTopic(config.kafkaBrokers!, dlqTopic, badOffsets.length);
  assert.deepEqual(
    received.map((m) => [m.headers['tributary-offset'], m.headers['tributary-topic'], m.headers['tributary-partition'], m.headers['tributary-step'], m.value?.toString('base64') ?? null]),
    badOffsets.map((b) => [String(b.offset), topic, '0', 'decode', b.value?.toString('base64') ?? null]),
  );
  assert.ok(received.every((m) => m.headers['tributary-topology'] === 'card-fraud' && m.headers['tributary-error']!.length > 0));
});

/** Reads `count` messages from the start of a topic with a throwaway consumer group. */
async function readTopic(brokers: string[], topic: string, count: number) {
  const { Kafka, logLevel } = await import('kafkajs');
  const consumer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: uniqueName('dlq_reader') });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const messages: Array<{ value: Buffer | null; headers: Record<string, string> }> = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${messages.length} of ${count} dead letters on ${topic}`)), 30_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        messages.push({ value: message.value, headers });
        if (messages.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return messages;
}

async function count(ch: ReturnType<typeof clickhouse>, table: string): Promise<number> {
  const [row] = await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${table}`);
  return Number(row!.n);
}
