import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { CardPaymentModel } from '../../src/sources/generator/card-payments.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures } from '../helpers/fraud-reference.ts';
import { referenceKeyHash } from '../helpers/reference-hash.ts';
import { clickhouse, engineConfig, queryRows, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const EVENTS = 12_000;
const START = Date.UTC(2026, 10, 3, 9, 0, 0);

test('staggerWindows 1s: the card-fraud topology on Kafka writes features equal to the reference with each card on its own phase, and one prediction per feature row', { timeout: 240_000 }, async (t) => {
  const prefix = `${uniqueName('stg')}_`;
  const config = engineConfig({ groupId: uniqueName('group') });
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 3 });
  const ch = clickhouse();
  t.after(async () => {
    await paymentsTopic.close();
    await ch.close();
  });
  // 12,000 payments of 300 cards over 12 minutes, then one event per partition ten minutes later that closes every window.
  const generator = new CardPaymentModel({ seed: 9, cards: 300, lateShare: 0, fraudRate: 0.01 });
  const payments = Array.from({ length: EVENTS }, (_, i) => generator.next(START + i * 60).payment);
  const engine = await Engine.start(createCardFraudTopology({ topic: paymentsTopic.topic, tablePrefix: prefix, staggerWindows: '1s' }), { config, logger: silentLogger, push: false });
  t.after(() => engine.stop());
  const count = async (sql: string) => Number((await queryRows<{ n: string }>(ch, sql))[0]!.n);
  await paymentsTopic.send(payments);
  await waitFor('every payment in ClickHouse', () => count(`SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`), (n) => n >= EVENTS, 120_000);
  await paymentsTopic.sendWatermarkEvents(payments);

  const expected = referenceCardFeatures(payments, 1_000);
  const features = async () => (await queryRows<Record<string, unknown>>(ch, `SELECT DISTINCT * FROM ${prefix}card_features ORDER BY cardId, windowEnd`)).map(toFeatures);
  await waitFor('every window in ClickHouse', async () => (await features()).length, (n) => n >= expected.length, 120_000);
  const found = (await features()).sort(byCardAndEnd);
  assert.equal(found.length, expected.length);
  assert.deepEqual(found.map(inCents), expected.map(inCents));
  // Each card's windows end at its own phase: (FNV-1a of the card id mod 60) seconds past the minute.
  for (const row of found) assert.equal(row.windowEnd % 60_000, (referenceKeyHash(row.cardId) % 60) * 1_000, row.cardId);
  assert.ok(new Set(found.map((row) => row.windowEnd % 60_000)).size >= 50, 'the cards spread over the minute');

  // One prediction per card and window, at the same window ends.
  const predictions = `SELECT uniqExact(cardId, windowEnd) AS n FROM ${prefix}fraud_predictions`;
  await waitFor('a prediction per window', () => count(predictions), (n) => n >= expected.length, 60_000);
  assert.equal(await count(predictions), expected.length);
  assert.equal(await count(`SELECT count() AS n FROM (SELECT DISTINCT cardId, windowEnd FROM ${prefix}fraud_predictions) AS p LEFT JOIN (SELECT DISTINCT cardId, windowEnd, 1 AS found FROM ${prefix}card_features) AS f USING (cardId, windowEnd) WHERE f.found = 1`), expected.length);
});
