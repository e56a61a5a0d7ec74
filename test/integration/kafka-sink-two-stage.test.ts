import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopology, kafkaTopic, clickhouseTable, inClear } from '../../src/index.ts';
import { Engine } from '../../src/runtime/engine.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { CARD_FEATURES, type CardFeatures } from '../../topologies/card-fraud-features.ts';
import { createEnrichStage, createFeatureStage } from '../../topologies/card-fraud-two-stage.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures } from '../helpers/fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const PARTITIONS = 3;
const CLOSE_AFTER_MS = 2 * 60 * 60_000; // past stage 2's 30-minute out-of-orderness

/** The card features alone, read straight from `topic` (no repartition). */
function singleStage(topic: string, prefix: string, orderBy: string[]) {
  return defineTopology({
    name: 'card-features-single',
    source: kafkaTopic<Payment>({ topic, format: 'avro-confluent', eventTime: (p) => p.ts, outOfOrderness: '5s' }),
    pipeline: (payments) => ({ features: CARD_FEATURES.compute(payments) }),
    sinks: { features: [clickhouseTable<CardFeatures>(`${prefix}card_features`, { schema: 'card_features.avsc', orderBy, timeField: 'windowEnd' })] },
    governance: inClear(),
  });
}

test('two stages: stage 1 re-keys merchant-keyed payments by card into a topic (kafkaTopicSink), stage 2 computes card features from it: equal to the single-stage run on card-keyed payments and to the reference; the single stage on merchant-keyed payments finds more window results than the reference', { timeout: 300_000 }, async (t) => {
  const config = engineConfig();
  const brokers = config.kafkaBrokers!;
  const byMerchant = await createPaymentsTopic(brokers, { partitions: PARTITIONS, name: 'by_merchant' });
  const byCard = await createPaymentsTopic(brokers, { partitions: PARTITIONS, name: 'by_card' });
  const enrichedTopic = uniqueName('enriched');
  await byMerchant.admin.createTopic(enrichedTopic, { partitions: PARTITIONS });
  const ch = clickhouse();
  const engines: Engine[] = [];
  t.after(async () => {
    for (const engine of engines) await engine.stop().catch(() => {});
    await byMerchant.close();
    await byCard.close();
    await ch.close();
  });
  const generator = new CardPaymentModel({ seed: 31, cards: 100, lateShare: 0, fraudRate: 0.01 });
  const start = Date.UTC(2026, 10, 6, 9, 0, 0);
  const payments = Array.from({ length: 6_000 }, (_, i) => generator.next(start + i * 60).payment);
  const last = Math.max(...payments.map((p) => p.ts));
  // Keyed by merchant: a card's payments spread over every partition.
  for (let i = 0; i < payments.length; i += 1_000) await byMerchant.producer.send(byMerchant.topic, payments.slice(i, i + 1_000).map((p) => ({ key: p.merchantId, value: byMerchant.encode(p) })));
  const closing = Array.from({ length: 30 }, (_, n): Payment => ({ ...payments[0]!, paymentId: `advance-${n}`, cardId: `watermark-${n}`, ts: last + CLOSE_AFTER_MS }));
  const sendClosing = () => byMerchant.producer.send(byMerchant.topic, closing.map((p, n) => ({ key: p.cardId, value: byMerchant.encode(p), partition: n % PARTITIONS })));
  await byCard.send(payments);
  await byCard.sendWatermarkEvents(payments, CLOSE_AFTER_MS);

  const two = `${uniqueName('two')}_`;
  const one = `${uniqueName('one')}_`;
  const unpartitioned = `${uniqueName('nor')}_`;
  const stages = { paymentsTopic: byMerchant.topic, enrichedTopic, tablePrefix: two };
  const run = async (topology: Parameters<typeof Engine.start>[0]) => {
    engines.push(await Engine.start(topology, { config: engineConfig({ groupId: uniqueName('group') }), logger: silentLogger, push: false }));
  };
  await run(createEnrichStage(stages));
  // Closing events on every partition, under 30 card ids so that stage 1's re-keying also reaches
  // every enriched partition, sent once stage 1 has read every payment: they come later in time.
  // Sent with the payments, a partition's closing events 2 h ahead would reach the enriched topic
  // before the other partitions' payments (stage 1 takes its partitions' batches one after the
  // other), far beyond stage 2's 30-minute out-of-orderness, and those payments would be late
  // wherever stage 2 reads them in more than one fetch.
  await waitFor('stage 1 has read every payment', async () => engines[0]!.stats().processedRecords, (n) => n >= payments.length, 60_000);
  await sendClosing();
  await run(createFeatureStage(stages));
  await run(singleStage(byCard.topic, one, ['cardId', 'windowEnd']));
  // Several different results per card and window must survive as rows here: the results are in the sorting key.
  await run(singleStage(byMerchant.topic, unpartitioned, ['cardId', 'windowEnd', 'count5m', 'sum5m', 'count1m', 'sum1m']));

  const reference = referenceCardFeatures(payments);
  const distinct = async (prefix: string) => (await queryRows<Record<string, unknown>>(ch, `SELECT DISTINCT cardId, windowStart, windowEnd, count1m, sum1m, max1m, count5m, sum5m, max5m, featureVersion FROM ${prefix}card_features`)).map(toFeatures).sort(byCardAndEnd);
  const windows = async (prefix: string) => Number((await queryRows<{ n: string }>(ch, `SELECT uniqExact(cardId, windowEnd) AS n FROM ${prefix}card_features`))[0]!.n);
  for (const prefix of [two, one, unpartitioned]) await waitFor(`every window under ${prefix}`, () => windows(prefix), (n) => n >= reference.length, 180_000);

  const twoStage = await distinct(two);
  assert.equal(twoStage.length, reference.length, 'one result per card and window after the repartition');
  assert.deepEqual(twoStage.map(inCents), reference.map(inCents), 'two stages equal the reference');
  assert.deepEqual(twoStage.map(inCents), (await distinct(one)).map(inCents), 'two stages equal the single stage on card-keyed payments');
  const withoutRepartition = await distinct(unpartitioned);
  console.log(`[two-stage] ${reference.length} windows; without repartition ${withoutRepartition.length} different window results`);
  assert.ok(withoutRepartition.length > reference.length, `without repartition: ${withoutRepartition.length} results for ${reference.length} windows`);
});
