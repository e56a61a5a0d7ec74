import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { OnnxModel } from '../../src/scoring/onnx-model.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { createCardFraudTopology, DEFAULT_MODEL_PATH } from '../../topologies/card-fraud.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures, referenceFraudVector } from '../helpers/fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { subscribeChannel } from '../helpers/fraud-models.ts';

const PARTITIONS = 3;
const EVENTS = 12_000;
const START = Date.UTC(2026, 10, 1, 12, 0, 0);

test('card-fraud on real Kafka: exact window features, late records, predictions equal to the model, WebSocket delivery, commits', { timeout: 240_000 }, async (t) => {
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig();
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS });
  const { topic, admin, producer, encode } = paymentsTopic;
  const ch = clickhouse();

  // 12,000 payments over 10 minutes of event time, out of order by up to a few seconds, none late.
  const generator = new CardPaymentModel({ seed: 5, cards: 300, lateShare: 0, fraudRate: 0.01 });
  const payments = Array.from({ length: EVENTS }, (_, i) => generator.next(START + i * 50).payment);
  const maxTs = Math.max(...payments.map((p) => p.ts));

  const engine = await Engine.start(createCardFraudTopology({ topic, tablePrefix: prefix, statePrefix: prefix }), { config, logger: process.env.TEST_LOG ? createLogger('test') : silentLogger, push: true });
  t.after(async () => {
    await engine.stop();
    await paymentsTopic.close();
    await ch.close();
  });
  try {
    const { received, close: closeSocket } = await subscribeChannel<{ cardId: string; windowEnd: number; probability: number }>(engine.environment.pushServer!.port, 'fraud');

    // Phase 1: the payments (keyed by card, so each card's order is its partition's order), then
    // one event per partition six minutes later, which moves the watermark past every window.
    await paymentsTopic.send(payments);
    // (Sent once the payments are processed, so they arrive in their own fetch: offsets are
    // acknowledged per fetched batch, and the commit check below can then be exact.)
    await waitFor('payments processed', async () => engine.stats().processedRecords, (n) => n >= EVENTS, 60_000);
    await paymentsTopic.sendWatermarkEvents(payments, 6 * 60_000);

    const expected = referenceCardFeatures(payments);
    await waitFor('all features in ClickHouse', () => countRows(ch, `${prefix}card_features`), (n) => n >= expected.length, 120_000);
    await waitFor('all predictions in ClickHouse', () => countRows(ch, `${prefix}fraud_predictions`), (n) => n >= expected.length, 60_000);

    // The feature store's lookup API: GET /state answers each card's latest features from Redis,
    // exactly the reference's last window of that card, with their age.
    const base = `http://127.0.0.1:${engine.environment.pushServer!.port}`;
    const lastWindow = new Map(expected.map((f) => [f.cardId, f]));
    for (const cardId of [...lastWindow.keys()].slice(0, 5)) {
      // Its own key prefix: other test files write the same card ids' keys in the same Redis.
      const response = await fetch(`${base}/state?key=${encodeURIComponent(`${prefix}features:card-features:v1:${cardId}`)}`);
      assert.equal(response.status, 200);
      const answer = (await response.json()) as { found: boolean; value: Record<string, unknown>; eventTime: number; ageMs: number; stale: boolean };
      assert.equal(answer.found, true);
      assert.equal(answer.stale, false);
      assert.ok(answer.ageMs >= 0 && answer.ageMs < 120_000, `age ${answer.ageMs} ms`);
      assert.deepEqual(inCents(toFeatures(answer.value)), inCents(lastWindow.get(cardId)!));
    }
    const missingKey = `${prefix}features:card-features:v1:no-such-card`;
    const missing = await fetch(`${base}/state?key=${encodeURIComponent(missingKey)}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { key: missingKey, found: false, stale: false });

    // Phase 2: payments ten minutes behind the watermark: late for every window they belong to.
    const lateOnes = payments.slice(0, 5).map((p, i): Payment => ({ ...p, paymentId: `late-${i}`, ts: maxTs - 10 * 60_000 }));
    await producer.send(topic, lateOnes.map((p) => ({ key: p.cardId, value: encode(p) })));
    await waitFor('late records', () => countRows(ch, `${prefix}late_records`), (n) => n >= 10, 60_000);

    // Features: exactly the independently computed windows, value for value.
    const features = (await queryRows<Record<string, unknown>>(ch, `SELECT * FROM ${prefix}card_features ORDER BY cardId, windowEnd`)).map(toFeatures);
    // Money is compared in whole cents: ClickHouse 18.16 parses JSON floats with up to one ulp of
    // error (4.56 comes back as 4.5600000000000005), so doubles are exact only to the cent there.
    assert.equal(features.length, expected.length);
    assert.deepEqual(features.sort(byCardAndEnd).map(inCents), expected.map(inCents));

    // Predictions: one per closed window, equal to the ONNX model's output for its features.
    const model = await OnnxModel.load(DEFAULT_MODEL_PATH);
    const vectors = new Float32Array(expected.flatMap(referenceFraudVector));
    const probabilities = await model.score(vectors, expected.length);
    await model.close();
    const predictions = await queryRows<Record<string, unknown>>(ch, `SELECT cardId, windowEnd, probability, model, count1m FROM ${prefix}fraud_predictions ORDER BY cardId, windowEnd`);
    assert.equal(predictions.length, expected.length);
    predictions.forEach((row, i) => {
      assert.equal(row.cardId, expected[i]!.cardId);
      assert.equal(Number(row.windowEnd), expected[i]!.windowEnd);
      assert.equal(Number(row.count1m), expected[i]!.count1m);
      assert.ok(Math.abs(Number(row.probability) - probabilities[i]!) <= 1e-6, `probability of ${row.cardId}@${row.windowEnd}: ${row.probability} vs model ${probabilities[i]}`);
      assert.match(String(row.model), /^fraud-lr@[0-9a-f]{12}$/);
    });
    assert.ok(predictions.some((row) => Number(row.probability) > 0.5), 'the fraud pattern in the data must be detected somewhere');

    // The dashboard's WebSocket client received one message per closed window, carrying the
    // model's output for it (compared with the model directly: 18.16's float parser may move
    // stored doubles by an ulp, the WebSocket carries the engine's own numbers).
    await waitFor('WebSocket predictions', async () => received.length, (n) => n >= expected.length, 10_000);
    assert.equal(received.length, expected.length);
    const modelOutput = new Map(expected.map((f, i) => [`${f.cardId}|${f.windowEnd}`, probabilities[i]!]));
    for (const message of received) {
      const probability = modelOutput.get(`${message.cardId}|${message.windowEnd}`);
      assert.ok(probability !== undefined, `unexpected prediction ${message.cardId}@${message.windowEnd}`);
      assert.ok(Math.abs(message.probability - probability) <= 1e-6);
      modelOutput.delete(`${message.cardId}|${message.windowEnd}`);
    }
    assert.equal(modelOutput.size, 0, 'every window was pushed exactly once');
    closeSocket();

    // Late records: every late payment, once per window step, with provenance.
    const late = await queryRows<{ step: string; key: string; event_time: string; topic: string; offset: string }>(ch, `SELECT step, key, event_time, topic, offset FROM ${prefix}late_records ORDER BY step, key`);
    assert.equal(late.length, 10);
    assert.deepEqual([...new Set(late.map((l) => l.step))].sort(), ['card-1m', 'card-5m']);
    assert.ok(late.every((l) => l.topic === topic && Number(l.event_time) === maxTs - 10 * 60_000 && l.offset !== ''));
    assert.deepEqual(late.filter((l) => l.step === 'card-1m').map((l) => l.key).sort(), lateOnes.map((p) => p.cardId).sort());

    // Raw events: every decoded payment, with its partition and offset.
    const [raw] = await queryRows<{ n: string; partitions: string }>(ch, `SELECT count() AS n, uniqExact(_partition) AS partitions FROM ${prefix}payments`);
    assert.equal(Number(raw!.n), EVENTS + PARTITIONS + lateOnes.length);
    assert.equal(Number(raw!.partitions), PARTITIONS);
    assert.equal(engine.stats().processedRecords, EVENTS + PARTITIONS + lateOnes.length);
  } catch (error) {
    if (process.env.TEST_LOG) console.error('test failed:', error);
    throw error;
  }
  await engine.stop();

  // Offsets: committed exactly up to the first record still held by an open window (the
  // watermark event), never past it, so a restart re-reads what in-memory windows still hold.
  const committed = await admin.committedOffsets(config.groupId!, topic);
  const ends = await admin.topicEndOffsets(topic);
  for (const { partition, offset } of committed) {
    const advanceOffset = await offsetOf(ch, `${prefix}payments`, partition, `watermark-${partition}`);
    assert.equal(offset, String(advanceOffset), `partition ${partition}: committed ${offset}, watermark event at ${advanceOffset}`);
    assert.ok(BigInt(offset) < BigInt(ends.find((e) => e.partition === partition)!.high));
  }
  assert.equal(committed.length, PARTITIONS);
});

async function countRows(ch: ReturnType<typeof clickhouse>, table: string): Promise<number> {
  const [row] = await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${table}`);
  return Number(row!.n);
}

async function offsetOf(ch: ReturnType<typeof clickhouse>, table: string, partition: number, cardId: string): Promise<number> {
  const [row] = await queryRows<{ o: string }>(ch, `SELECT _offset AS o FROM ${table} WHERE _partition = ${partition} AND cardId = '${cardId}'`);
  return Number(row!.o);
}
