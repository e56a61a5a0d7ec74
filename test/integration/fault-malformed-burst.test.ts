import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { CardPaymentModel } from '../../src/sources/generator/card-payments.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures } from '../helpers/fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const VALID = 20_000;
const MALFORMED = 1_000;
const PARTITIONS = 3;

test('fault: a burst of 1,000 malformed records amid 20,000 valid ones; every malformed one dead-lettered with provenance, every valid one processed', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('b')}_`;
  const config = engineConfig({ windowState: 'redis' });
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS, name: 'payments_burst' });
  const { topic, producer, encode } = paymentsTopic;
  const ch = clickhouse();
  const generator = new CardPaymentModel({ seed: 37, cards: 300, lateShare: 0, fraudRate: 0.01 });
  const start = Date.UTC(2026, 10, 4, 9, 0, 0);
  const payments = Array.from({ length: VALID }, (_, i) => generator.next(start + i * 60).payment);

  // The burst: truncated records, flipped bytes, an unknown schema id, plain text, empty values,
  // all keyed like the payments around them, in the middle of the stream.
  const malformed = Array.from({ length: MALFORMED }, (_, i): { key: string; value: Buffer } => {
    const p = payments[10_000 + i]!;
    const bytes = encode(p);
    switch (i % 5) {
      case 0:
        return { key: p.cardId, value: bytes.subarray(0, 5 + (i % (bytes.length - 6))) };
      case 1:
        bytes.writeUInt32BE(7_000 + i, 1);
        return { key: p.cardId, value: bytes };
      case 2:
        return { key: p.cardId, value: Buffer.from(`{"not":"avro","n":${i}}`) };
      case 3:
        return { key: p.cardId, value: Buffer.alloc(0) };
      default:
        bytes[0] = 0xff;
        return { key: p.cardId, value: bytes };
    }
  });
  const engine = await Engine.start(createCardFraudTopology({ topic, tablePrefix: prefix }), { config, logger: silentLogger, push: false });
  t.after(async () => {
    await engine.stop();
    await paymentsTopic.close();
    await ch.close();
  });

  await paymentsTopic.send(payments.slice(0, 10_000));
  for (let i = 0; i < MALFORMED; i += 500) await producer.send(topic, malformed.slice(i, i + 500));
  await paymentsTopic.send(payments.slice(10_000));
  await paymentsTopic.sendWatermarkEvents(payments);

  const count = async (sql: string) => Number((await queryRows<{ n: string }>(ch, sql))[0]!.n);
  const expected = referenceCardFeatures(payments);
  await waitFor('every window', () => count(`SELECT count() AS n FROM ${prefix}card_features FINAL`), (n) => n >= expected.length, 120_000);
  await waitFor('every prediction', () => count(`SELECT count() AS n FROM ${prefix}fraud_predictions FINAL`), (n) => n >= expected.length, 60_000);
  await waitFor('every valid event', () => count(`SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`), (n) => n >= VALID + PARTITIONS, 60_000);
  await waitFor('every dead letter', () => count(`SELECT count() AS n FROM ${prefix}dead_letters FINAL`), (n) => n >= MALFORMED, 60_000);

  // Every malformed record, exactly once, with topic, partition, offset, step, error and its bytes.
  const letters = await queryRows<{ topic: string; partition: number; offset: string; step: string; error: string; raw: string }>(
    ch,
    `SELECT topic, partition, offset, step, error, raw_base64 AS raw FROM ${prefix}dead_letters FINAL ORDER BY partition, toUInt64(offset)`,
  );
  assert.equal(letters.length, MALFORMED);
  assert.ok(letters.every((l) => l.topic === topic && l.step === 'decode' && l.error.length > 0 && l.offset !== ''));
  assert.deepEqual(letters.map((l) => l.raw).sort(), malformed.map((m) => m.value.toString('base64')).sort());
  const [metric] = (await engine.metrics.deadLetters.get()).values.filter((v) => v.labels.step === 'decode');
  assert.equal(metric?.value, MALFORMED);

  // Every valid record: N distinct events, features equal the reference, one prediction per window.
  assert.equal(await count(`SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`), VALID + PARTITIONS);
  const features = (await queryRows<Record<string, unknown>>(ch, `SELECT * FROM ${prefix}card_features FINAL ORDER BY cardId, windowEnd`)).map(toFeatures);
  assert.deepEqual(features.sort(byCardAndEnd).map(inCents), expected.map(inCents));
  assert.equal(await count(`SELECT count() AS n FROM ${prefix}fraud_predictions FINAL`), expected.length);
});
