import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopology, kafkaTopic, clickhouseTable, inClear, repartition } from '../../src/index.ts';
import { Engine } from '../../src/runtime/engine.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { CARD_FEATURES, type CardFeatures } from '../../topologies/card-fraud-features.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures } from '../helpers/fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const PARTITIONS = 3;

/** Card features over `topic`, re-keyed by card through `internalTopic` first, or (null) read as they are. */
function cardFeatures(topic: string, prefix: string, internalTopic: string | null) {
  return defineTopology({
    name: internalTopic ? 'card-features-repartitioned' : 'card-features-as-keyed',
    source: kafkaTopic<Payment>({ topic, format: 'avro-confluent', eventTime: (p) => p.ts, outOfOrderness: '5s' }),
    pipeline: (payments) => ({ features: CARD_FEATURES.compute(internalTopic ? payments.pipe(repartition((p) => p.cardId, { topic: internalTopic })) : payments) }),
    // The results are in the sorting key, so different results for one window stay apart.
    sinks: { features: [clickhouseTable<CardFeatures>(`${prefix}card_features`, { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd', 'count5m', 'sum5m', 'count1m', 'sum1m'], timeField: 'windowEnd' })] },
    governance: inClear(),
  });
}

test('repartition: payments keyed by merchant over 3 partitions, windowed per card after repartition((p) => p.cardId): the features equal an independent reference; without it, more window results than the reference', { timeout: 300_000 }, async (t) => {
  const config = engineConfig();
  const payments = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS, name: 'by_merchant' });
  const ch = clickhouse();
  const engines: Engine[] = [];
  t.after(async () => {
    for (const engine of engines) await engine.stop().catch(() => {});
    await payments.close();
    await ch.close();
  });
  const generator = new CardPaymentModel({ seed: 41, cards: 100, lateShare: 0, fraudRate: 0.01 });
  const start = Date.UTC(2026, 10, 7, 9, 0, 0);
  const all = Array.from({ length: 6_000 }, (_, i) => generator.next(start + i * 60).payment);
  for (let i = 0; i < all.length; i += 1_000) await payments.producer.send(payments.topic, all.slice(i, i + 1_000).map((p) => ({ key: p.merchantId, value: payments.encode(p) })));
  // One closing event per source partition is enough: the watermark travels to every internal partition.
  await payments.sendWatermarkEvents(all);

  const internalTopic = uniqueName('repartition');
  const repartitioned = `${uniqueName('rp')}_`;
  const asKeyed = `${uniqueName('nrp')}_`;
  for (const [prefix, topic] of [[repartitioned, internalTopic], [asKeyed, null]] as const) {
    engines.push(await Engine.start(cardFeatures(payments.topic, prefix, topic), { config: engineConfig({ groupId: uniqueName('group') }), logger: silentLogger, push: false }));
  }
  const reference = referenceCardFeatures(all);
  const windows = async (prefix: string) => Number((await queryRows<{ n: string }>(ch, `SELECT uniqExact(cardId, windowEnd) AS n FROM ${prefix}card_features`))[0]!.n);
  for (const prefix of [repartitioned, asKeyed]) {
    await waitFor(`every window under ${prefix}`, () => windows(prefix), (n) => n >= reference.length, 90_000).catch(async (error) => {
      const seen = new Set((await queryRows<{ w: string }>(ch, `SELECT concat(cardId, '@', toString(windowEnd)) AS w FROM ${prefix}card_features`)).map((r) => r.w));
      const missing = reference.filter((f) => !seen.has(`${f.cardId}@${f.windowEnd}`)).slice(0, 5);
      const late = (await engines[0]!.metrics.lateRecords.get()).values;
      throw new Error(`${(error as Error).message}; missing ${JSON.stringify(missing)}; late ${JSON.stringify(late)}; last payment ts ${Math.max(...all.map((p) => p.ts))}`);
    });
  }
  const distinct = async (prefix: string) => (await queryRows<Record<string, unknown>>(ch, `SELECT DISTINCT cardId, windowStart, windowEnd, count1m, sum1m, max1m, count5m, sum5m, max5m, featureVersion FROM ${prefix}card_features`)).map(toFeatures).sort(byCardAndEnd);

  const features = await distinct(repartitioned);
  assert.equal(features.length, reference.length, 'one result per card and window');
  assert.deepEqual(features.map(inCents), reference.map(inCents));
  const late = (await engines[0]!.metrics.lateRecords.get()).values.reduce((n, { value }) => n + value, 0);
  assert.equal(late, 0, 'no record late after the repartition (the watermark waited for every source partition)');
  const internal = await payments.admin.partitionCount(internalTopic);
  assert.equal(internal, PARTITIONS, 'internal topic with the source partition count');
  const without = await distinct(asKeyed);
  console.log(`[repartition] ${reference.length} windows; without repartition ${without.length} different window results`);
  assert.ok(without.length > reference.length, `without repartition: ${without.length} results for ${reference.length} windows`);
});
