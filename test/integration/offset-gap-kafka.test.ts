import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { Engine } from '../../src/runtime/engine.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { RedisCheckpointStore } from '../../src/state/redis-checkpoint-store.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { clickhouse, engineConfig, requireService, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { durableEngineEnv, startEngineProcess } from '../helpers/engine-process.ts';
import { assertExactCardFraudResults, waitForCardFraudResults } from '../helpers/fault-run.ts';
import type { AuditEvent, AuditTrail } from '../../src/audit/audit-trail.ts';

const PARTITIONS = 3;
const START = Date.UTC(2026, 10, 4, 9, 0, 0);

/** An audit trail that keeps what it is given, for the engines this test starts. */
function recordingTrail(): AuditTrail & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: async (event) => void events.push(event), close: async () => {} };
}

/** tributary_records_lost_total per partition, as the engine counted them. */
async function lostPerPartition(metrics: Metrics): Promise<Map<number, number>> {
  const lost = new Map<number, number>();
  for (const { labels, value } of (await metrics.recordsLost.get()).values) {
    assert.equal(labels.reason, 'below_log_start');
    lost.set(Number(labels.partition), (lost.get(Number(labels.partition)) ?? 0) + value);
  }
  return lost;
}

test('retention gap: records deleted below an offset the group had not reached stop a durable topology (exit 1, every partition named, counted exactly); with onOffsetGap earliest it continues and its windows equal the reference over the records that still exist', { timeout: 420_000 }, async (t) => {
  const groupId = uniqueName('group');
  const config = engineConfig({ groupId, windowState: 'redis', checkpointIntervalMs: 300, commitIntervalMs: 200, maxInFlightRecords: 4_000 });
  const brokers = config.kafkaBrokers!;
  const paymentsTopic = await createPaymentsTopic(brokers, { partitions: PARTITIONS });
  const { topic, admin } = paymentsTopic;
  const kafka = new Kafka({ clientId: 'gap-test', brokers, logLevel: logLevel.NOTHING });
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  const ch = clickhouse();
  const redis = new Redis(requireService('REDIS_URL'));
  const engines: Engine[] = [];
  t.after(async () => {
    for (const engine of engines) await engine.stop().catch(() => {});
    await redis.del(...Array.from({ length: PARTITIONS }, (_, p) => RedisCheckpointStore.keyOf('card-fraud', groupId, `${topic}:${p}`)));
    redis.disconnect();
    await kafkaAdmin.disconnect();
    await paymentsTopic.close();
    await ch.close();
  });

  const generator = new CardPaymentModel({ seed: 23, cards: 200, lateShare: 0, fraudRate: 0.01 });
  const payments = Array.from({ length: 9_000 }, (_, i) => generator.next(START + i * 60).payment);
  const firstPart = payments.slice(0, 3_000);

  // 1. The engine reads the first part with durable window state and stops cleanly: its
  //    checkpoints and committed offsets cover exactly the first part.
  const first = await Engine.start(createCardFraudTopology({ topic, tablePrefix: `${uniqueName('a')}_` }), { config, logger: silentLogger, push: false });
  engines.push(first);
  await paymentsTopic.send(firstPart);
  const committed = async () => new Map((await admin.committedOffsets(groupId, topic)).map(({ partition, offset }) => [partition, Number(offset)]));
  await waitFor('the first part committed', async () => [...(await committed()).values()].reduce((sum, n) => sum + Math.max(0, n), 0), (n) => n === firstPart.length, 90_000);
  await first.stop();
  const reached = await committed();

  // 2. While it is stopped, the rest arrives and the records up to half of each partition's
  //    unread part are deleted (what time-based retention does to records it has not read).
  await paymentsTopic.send(payments.slice(3_000));
  const ends = new Map((await admin.topicEndOffsets(topic)).map(({ partition, high }) => [partition, Number(high)]));
  const deletedTo = new Map([...reached].map(([partition, offset]) => [partition, offset + Math.floor((ends.get(partition)! - offset) / 2)]));
  await kafkaAdmin.fetchTopicMetadata({ topics: [topic] }); // deleteTopicRecords needs the leaders
  await kafkaAdmin.deleteTopicRecords({ topic, partitions: [...deletedTo].map(([partition, offset]) => ({ partition, offset: String(offset) })) });
  const expectedLost = new Map([...deletedTo].map(([partition, offset]) => [partition, offset - reached.get(partition)!]));
  const totalLost = [...expectedLost.values()].reduce((a, b) => a + b, 0);
  assert.ok([...expectedLost.values()].every((n) => n > 0), 'every partition lost records');
  await paymentsTopic.sendWatermarkEvents(payments);

  // 3. `tributary run` on the same group stops with exit code 1 and names every gap.
  const cli = startEngineProcess(durableEngineEnv({ config, groupId, topic, prefix: `${uniqueName('b')}_` }));
  const code = await cli.exited;
  const output = cli.output();
  assert.equal(code, 1, `exit code (output:\n${output.slice(-3000)})`);
  assert.match(output, new RegExp(`tributary: ${totalLost} records were lost before this consumer read them`));
  for (const [partition, lost] of expectedLost) {
    const range = `topic ${topic} partition ${partition}: offsets ${reached.get(partition)} to ${deletedTo.get(partition)! - 1} \\(${lost} records\\)`;
    assert.match(output, new RegExp(range), `partition ${partition} is named with its range and count`);
  }
  assert.match(output, /TRIBUTARY_ON_OFFSET_GAP=earliest tributary run/);
  assert.doesNotMatch(output, /Stopped cleanly/);

  // 4. The same in this process: `done` rejects with the gap, and the counter holds exactly what was deleted unread.
  const failingMetrics = new Metrics();
  const failingTrail = recordingTrail();
  const failing = await Engine.start(createCardFraudTopology({ topic, tablePrefix: `${uniqueName('c')}_` }), { config, logger: silentLogger, metrics: failingMetrics, push: false, audit: { trail: failingTrail } });
  engines.push(failing);
  await assert.rejects(failing.done, (error: Error & { code?: string }) => error.code === 'OFFSET_GAP');
  await failing.stop();
  assert.deepEqual(await lostPerPartition(failingMetrics), expectedLost);
  const gapEntries = (trail: { events: AuditEvent[] }) =>
    trail.events.filter((e) => e.action === 'kafka.offset_gap').map((e) => [e.target, e.outcome, e.details?.count, e.details?.from, e.details?.to]).sort();
  const expectedEntries = (outcome: string) =>
    [...expectedLost].map(([partition, lost]) => [`${topic}:${partition}`, outcome, lost, String(reached.get(partition)), String(deletedTo.get(partition)! - 1)]).sort();
  assert.deepEqual(gapEntries(failingTrail), expectedEntries('failed'), 'one audit entry per partition with its range');
  assert.deepEqual(await committed(), reached, 'a failed start commits nothing');

  // 5. onOffsetGap 'earliest': it counts the same gaps, discards the checkpoints inside them, and
  //    its windows equal the reference computed over the records that still exist.
  const existing = await readExisting(kafka, topic, paymentsTopic.encode, payments);
  assert.equal(existing.length, payments.length - firstPart.length - totalLost, 'the records that still exist (read back independently)');
  const prefix = `${uniqueName('d')}_`;
  const metrics = new Metrics();
  const trail = recordingTrail();
  const continuing = await Engine.start(createCardFraudTopology({ topic, tablePrefix: prefix, onOffsetGap: 'earliest' }), { config, logger: silentLogger, metrics, push: false, audit: { trail } });
  engines.push(continuing);
  await waitForCardFraudResults(ch, prefix, existing, PARTITIONS, 180_000);
  assert.deepEqual(await lostPerPartition(metrics), expectedLost);
  assert.deepEqual(gapEntries(trail), expectedEntries('ok'));
  await assertExactCardFraudResults(ch, prefix, existing, PARTITIONS);
});

/** The payments still in the topic, in partition order, read back with a plain consumer and matched by their bytes. */
async function readExisting(kafka: Kafka, topic: string, encode: (p: Payment) => Buffer, payments: readonly Payment[]): Promise<Payment[]> {
  const byBytes = new Map(payments.map((p) => [encode(p).toString('base64'), p]));
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.map(({ partition, low, high }) => [partition, Number(high) - Number(low)]));
  const found: Payment[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('readback') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let left = [...remaining.values()].reduce((a, b) => a + b, 0);
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            const payment = byBytes.get(message.value!.toString('base64'));
            if (payment) found.push(payment);
            left--;
          }
          if (left <= 0) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return found;
}
