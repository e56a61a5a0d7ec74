import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { CardPaymentModel } from '../../src/sources/generator/card-payments.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures } from '../helpers/fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const PARTITIONS = 3;
const EVENTS = 12_000;
const START = Date.UTC(2026, 10, 2, 9, 0, 0);

test('TRIBUTARY_KAFKA_CLIENT=platformatic: the engine reads every Avro payment once, its windows equal the reference, and the committed offsets reach the end of every partition', { timeout: 240_000 }, async (t) => {
  const prefix = `${uniqueName('plt')}_`;
  const groupId = uniqueName('group');
  const config = engineConfig({ kafkaClient: 'platformatic', groupId });
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS });
  const { topic, admin } = paymentsTopic;
  const ch = clickhouse();
  t.after(async () => {
    await paymentsTopic.close();
    await ch.close();
  });

  // 12,000 payments of 300 cards over 12 minutes, then one event per partition ten minutes later
  // that closes every window.
  const generator = new CardPaymentModel({ seed: 5, cards: 300, lateShare: 0, fraudRate: 0.01 });
  const payments = Array.from({ length: EVENTS }, (_, i) => generator.next(START + i * 60).payment);
  const events = EVENTS + PARTITIONS;
  const count = async (sql: string) => Number((await queryRows<{ n: string }>(ch, sql))[0]!.n);

  const engine = await Engine.start(createCardFraudTopology({ topic, tablePrefix: prefix }), { config, logger: silentLogger, push: false });
  t.after(() => engine.stop());
  // The payments first, the closing events once they are in: the closing events then arrive in
  // batches of their own, so every payment's batch is acknowledged when its windows close.
  await paymentsTopic.send(payments);
  await waitFor('every payment in ClickHouse', () => count(`SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`), (n) => n >= EVENTS, 120_000);
  await paymentsTopic.sendWatermarkEvents(payments);

  const expected = referenceCardFeatures(payments);
  const features = async () => (await queryRows<Record<string, unknown>>(ch, `SELECT DISTINCT * FROM ${prefix}card_features ORDER BY cardId, windowEnd`)).map(toFeatures);
  await waitFor('every window in ClickHouse', async () => (await features()).length, (n) => n >= expected.length, 120_000);

  // Every event once (replacing table keyed by partition and offset), and the windows equal the
  // independent reference computed from the generated payments.
  assert.equal(await count(`SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`), events);
  const paymentIds = await queryRows<{ paymentId: string }>(ch, `SELECT DISTINCT paymentId FROM ${prefix}payments WHERE paymentId NOT LIKE 'advance-%'`);
  assert.deepEqual(new Set(paymentIds.map((row) => row.paymentId)), new Set(payments.map((p) => p.paymentId)));
  const found = await features();
  assert.equal(found.length, expected.length);
  assert.deepEqual(found.sort(byCardAndEnd).map(inCents), expected.map(inCents));

  // The group's committed offsets reach each partition's end but its closing event, whose own
  // window stays open (an offset is committed only once every sink and window acknowledged it).
  const ends = new Map((await admin.topicEndOffsets(topic)).map(({ partition, high }) => [partition, high]));
  assert.equal([...ends.values()].reduce((total, high) => total + Number(high), 0), events);
  await waitFor(
    'committed offsets at the last payment of every partition',
    async () => Object.fromEntries((await admin.committedOffsets(groupId, topic)).map(({ partition, offset }) => [partition, offset])),
    (committed) => [...ends].every(([partition, high]) => committed[partition] === (BigInt(high) - 1n).toString()),
    60_000,
  );
});
