import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Engine } from '../../src/runtime/engine.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { referenceCardFeatures, byCardAndEnd, inCents, toFeatures } from '../helpers/fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, SCHEMAS_DIR, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { readAll } from '../helpers/kafka-sink-run.ts';

function registryUrl(): string {
  const url = process.env.SCHEMA_REGISTRY_URL;
  if (!url) throw new Error('SCHEMA_REGISTRY_URL is not set: bash scripts/schema-registry.sh start; eval "$(bash scripts/schema-registry.sh env)"');
  return url;
}
const schemaText = (file: string) => readFileSync(path.join(SCHEMAS_DIR, file), 'utf8');

test('Schema Registry: payments framed with registry ids (v1, then a compatible v2 mid-stream) are decoded by id; predictions carry the id the registry gave fraud_prediction.avsc under <topic>-value', { timeout: 300_000 }, async (t) => {
  const url = registryUrl();
  const registry = new SchemaRegistry({ host: url });
  const config = engineConfig();
  const payments = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 3 });
  const predictionsTopic = uniqueName('predictions');
  await payments.admin.createTopic(predictionsTopic, { partitions: 3 });
  const prefix = `${uniqueName('sr')}_`;
  const ch = clickhouse();
  t.after(async () => {
    await payments.close();
    await ch.close();
  });
  // The producer's side, with the registry client only: v1 ids for the first half, v2 (a new field with a default) after.
  const subject = `${payments.topic}-value`;
  const { id: v1 } = await registry.register({ type: SchemaType.AVRO, schema: schemaText('payment.avsc') }, { subject });
  const generator = new CardPaymentModel({ seed: 5, cards: 100, lateShare: 0, fraudRate: 0.01 });
  const start = Date.UTC(2026, 10, 5, 9, 0, 0);
  const all: Payment[] = Array.from({ length: 6_000 }, (_, i) => generator.next(start + i * 60).payment);
  const send = async (batch: Payment[], id: number, extra: object = {}) => {
    for (let i = 0; i < batch.length; i += 1_000) {
      const slice = batch.slice(i, i + 1_000);
      await payments.producer.send(payments.topic, await Promise.all(slice.map(async (p) => ({ key: p.cardId, value: await registry.encode(id, { ...p, ...extra }) }))));
    }
  };
  await send(all.slice(0, 3_000), v1);

  const engine = await Engine.start(createCardFraudTopology({ topic: payments.topic, tablePrefix: prefix, predictionsTopic: { topic: predictionsTopic }, schemaRegistryUrl: url }), { config, logger: silentLogger, push: false });
  t.after(() => engine.stop());
  const predictionId = await registry.getLatestSchemaId(`${predictionsTopic}-value`);

  const { id: v2 } = await registry.register({ type: SchemaType.AVRO, schema: schemaText('payment_v2.avsc') }, { subject });
  assert.notEqual(v2, v1);
  await send(all.slice(3_000), v2, { riskFlags: ['new-device'] });
  const last = Math.max(...all.map((p) => p.ts));
  const closing = Array.from({ length: 3 }, (_, partition): Payment => ({ ...all[0]!, paymentId: `advance-${partition}`, cardId: `watermark-${partition}`, ts: last + 600_000 }));
  await payments.producer.send(payments.topic, await Promise.all(closing.map(async (p, partition) => ({ key: p.cardId, value: await registry.encode(v2, { ...p, riskFlags: [] }), partition }))));

  const reference = referenceCardFeatures(all);
  await waitFor('every window in ClickHouse', async () => Number((await queryRows<{ n: string }>(ch, `SELECT uniqExact(cardId, windowEnd) AS n FROM ${prefix}card_features`))[0]!.n), (n) => n >= reference.length, 120_000);
  const features = (await queryRows<Record<string, unknown>>(ch, `SELECT DISTINCT * FROM ${prefix}card_features ORDER BY cardId, windowEnd`)).map(toFeatures);
  assert.deepEqual(features.sort(byCardAndEnd).map(inCents), reference.map(inCents), 'v1 and v2 payments all counted');
  const [dead] = await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}dead_letters`);
  assert.equal(Number(dead!.n), 0, 'no payment dead-lettered');

  await waitFor('every prediction on the topic', async () => new Set((await readAll(config.kafkaBrokers!, predictionsTopic, 'read_committed', predictionId)).map((r) => `${r.value.cardId}@${r.value.windowEnd}`)).size, (n) => n >= reference.length, 60_000);
  // Every record framed with the registry's id (readAll checks it) and read back by the registry client too.
  const [first] = await readAll(config.kafkaBrokers!, predictionsTopic, 'read_committed', predictionId);
  const schema = (await registry.getSchema(predictionId)) as unknown as { name: string };
  assert.equal(schema.name, 'dev.tributary.examples.FraudPrediction');
  assert.equal(typeof first!.value.probability, 'number');
});

test('Schema Registry: an output schema incompatible with its subject fails the start with a ConfigError naming the subject and the field', { timeout: 120_000 }, async (t) => {
  const url = registryUrl();
  const registry = new SchemaRegistry({ host: url });
  const config = engineConfig();
  const payments = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 1 });
  t.after(() => payments.close());
  const predictionsTopic = uniqueName('predictions');
  await payments.admin.createTopic(predictionsTopic, { partitions: 1 });
  const subject = `${predictionsTopic}-value`;
  // Someone registered the predictions with `probability` as a string: fraud_prediction.avsc (a double) cannot read that data.
  const existing = JSON.parse(schemaText('fraud_prediction.avsc')) as { fields: Array<{ name: string; type: unknown }> };
  existing.fields = existing.fields.map((field) => (field.name === 'probability' ? { ...field, type: 'string' } : field));
  await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(existing) }, { subject });

  const prefix = `${uniqueName('sr')}_`;
  const started = Engine.start(createCardFraudTopology({ topic: payments.topic, tablePrefix: prefix, predictionsTopic: { topic: predictionsTopic }, schemaRegistryUrl: url }), { config, logger: silentLogger, push: false });
  await assert.rejects(started, (error: unknown) => {
    console.log(`[schema-registry] refused: ${String(error)}`);
    assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
    assert.equal(error.field, `${subject}.probability`);
    assert.match(error.message, new RegExp(`subject ${subject}`));
    assert.match(error.message, /field "probability"/);
    return true;
  });
});
