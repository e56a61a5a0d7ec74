import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Engine } from '../../src/runtime/engine.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { createAvroEncoder } from '../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { chargebacksOf, type Chargeback } from '../../src/sources/generator/chargebacks.ts';
import type { ModelOutcome } from '../../src/registry/model-outcomes.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { createChargebacksTopology } from '../../topologies/chargebacks.ts';
import { referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { close, referenceOutcome, type Scored } from '../helpers/outcome-reference.ts';
import { clickhouse, engineConfig, queryRows, REPO_ROOT, SCHEMAS_DIR, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const run = promisify(execFile);
const MINUTE = 60_000;
const DAY = 86_400_000;
/** Eight minutes across midnight UTC: the metrics come per day, two of them. */
const START = Date.UTC(2026, 6, 1, 23, 56);
const END = START + 8 * MINUTE;
const RATE = 40;

test('outcome metrics over a run with generated chargebacks (real Kafka, ClickHouse, Redis) equal AUC, log loss, ECE and precision at 100 computed here per version and day', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig();
  const ch = clickhouse();
  const logger = process.env.TEST_LOG ? createLogger('test') : silentLogger;
  // Payments with the generator's fraud bursts; a chargeback (reported days later) for every fraudulent one.
  const generator = new CardPaymentModel({ seed: 31, lateShare: 0 });
  const generated = Array.from({ length: ((END - START) / 1000) * RATE }, (_, i) => generator.next(START + (i * 1000) / RATE));
  const payments: Payment[] = generated.map((g) => g.payment);
  const chargebacks = chargebacksOf(generated);
  assert.ok(chargebacks.length > 100, `${chargebacks.length} chargebacks`);

  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 3 });
  const chargebacksTopic = uniqueName('chargebacks');
  await paymentsTopic.admin.createTopic(chargebacksTopic, { partitions: 2 });
  const kafka = createKafkajsClient({ brokers: config.kafkaBrokers!, clientId: `test-${chargebacksTopic}`, logger: silentLogger });
  const producer = kafka.producer();
  await producer.connect();
  const fraud = await Engine.start(createCardFraudTopology({ topic: paymentsTopic.topic, tablePrefix: prefix, statePrefix: `${prefix}:` }), { config, push: false, logger });
  const labels = await Engine.start(createChargebacksTopology({ topic: chargebacksTopic, tablePrefix: prefix }), { config: { ...config, groupId: uniqueName('group') }, push: false, logger });
  t.after(async () => {
    await fraud.stop();
    await labels.stop();
    await producer.disconnect().catch(() => {});
    await paymentsTopic.close();
    await ch.close();
  });
  await paymentsTopic.send(payments);
  await paymentsTopic.sendWatermarkEvents(payments, 10 * MINUTE);
  const encoder = createAvroEncoder<Chargeback>({ wire: 'confluent', registry: LocalSchemaRegistry.fromDirectory(SCHEMAS_DIR), schema: 'chargeback.avsc' });
  await producer.send(chargebacksTopic, chargebacks.map((c) => ({ key: c.cardId, value: encoder.encode(c) })));

  const windows = referenceCardFeatures(payments).length;
  const count = async (query: string) => Number((await queryRows<{ n: string }>(ch, query))[0]!.n);
  await waitFor(`${windows} predictions`, () => count(`SELECT count() AS n FROM ${prefix}fraud_predictions FINAL WHERE cardId NOT LIKE 'watermark%'`), (n) => n >= windows, 120_000);
  await waitFor(`${chargebacks.length} chargebacks`, () => count(`SELECT count() AS n FROM ${prefix}chargebacks FINAL`), (n) => n >= chargebacks.length, 60_000);

  // The job, as the schedule runs it: computes, stores and prints.
  const env = { ...process.env, LIFECYCLE_TEST_PREFIX: prefix, LOG_LEVEL: 'warn' };
  const printed = JSON.parse((await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'models', 'outcomes', 'test/fixtures/lifecycle-topology.ts', '--format', 'json'], { cwd: REPO_ROOT, env })).stdout) as ModelOutcome[];
  const stored = await queryRows<Record<string, unknown>>(ch, `SELECT version, dayStart, rows, positives, auc, logLoss, ece, precisionAtK, k FROM ${prefix}model_outcomes FINAL ORDER BY dayStart`);

  // Here: the predictions as the engine stored them, labelled from the generated chargebacks.
  const predictions = await queryRows<{ cardId: string; windowEnd: string; probability: number; modelVersion: string }>(ch, `SELECT cardId, windowEnd, probability, modelVersion FROM ${prefix}fraud_predictions FINAL WHERE source = 'model' AND origin = 'online'`);
  const fraudTimes = new Map<string, number[]>();
  for (const c of chargebacks) fraudTimes.set(c.cardId, [...(fraudTimes.get(c.cardId) ?? []), c.paymentTs]);
  const groups = new Map<string, Scored[]>();
  for (const p of predictions) {
    const end = Number(p.windowEnd);
    const label = (fraudTimes.get(p.cardId) ?? []).some((ts) => ts >= end - MINUTE && ts < end) ? 1 : 0;
    const key = `${p.modelVersion}|${end - (end % DAY)}`;
    groups.set(key, [...(groups.get(key) ?? []), { score: p.probability, label }]);
  }
  assert.equal(groups.size, 2, 'one live version, two days');
  const lines: string[] = [];
  for (const outcomes of [printed, stored.map((row) => ({ ...row, version: String(row.version), dayStart: Number(row.dayStart), rows: Number(row.rows), positives: Number(row.positives), k: Number(row.k) }) as unknown as ModelOutcome)]) {
    assert.deepEqual(outcomes.map((o) => `${o.version}|${o.dayStart}`).sort(), [...groups.keys()].sort());
    for (const o of outcomes) {
      const reference = referenceOutcome(groups.get(`${o.version}|${o.dayStart}`)!, 100);
      assert.deepEqual([o.rows, o.positives, o.k], [reference.rows, reference.positives, reference.k]);
      for (const metric of ['auc', 'logLoss', 'ece', 'precisionAtK'] as const) {
        const value = o[metric] === null ? null : Number(o[metric]);
        assert.ok(close(value, reference[metric], 1e-9), `${o.version} ${new Date(o.dayStart).toISOString()} ${metric}: ${value} vs ${reference[metric]}`);
      }
      if (outcomes === printed) lines.push(`${new Date(o.dayStart).toISOString().slice(0, 10)}: ${o.rows} rows, ${o.positives} positive, AUC ${o.auc?.toFixed(4)}, log loss ${o.logLoss.toFixed(4)}, ECE ${o.ece.toFixed(4)}, precision@${o.k} ${o.precisionAtK.toFixed(3)}`);
    }
  }
  console.log(`[outcomes] fraud-lr per day:\n  ${lines.join('\n  ')}`);
  assert.ok(printed.every((o) => o.positives > 0 && o.auc !== null), 'both classes on both days');
});
