import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { deserialize } from 'node:v8';
import { Redis } from 'ioredis';
import { Engine } from '../../src/runtime/engine.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { PartitionCheckpoint } from '../../src/state/checkpoint-store.ts';
import { RedisCheckpointStore } from '../../src/state/redis-checkpoint-store.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures } from '../helpers/fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, requireService, uniqueName, waitFor } from '../helpers/services.ts';
import { durableEngineEnv, startEngineProcess } from '../helpers/engine-process.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const PARTITIONS = 3;
const EVENTS = 24_000;
const START = Date.UTC(2026, 10, 2, 9, 0, 0);

test('fault: kill -9 in the middle of open windows: the restarted engine resumes the checkpointed window state and its results equal an uninterrupted run', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('r')}_`;
  const referencePrefix = `${uniqueName('u')}_`;
  const groupId = uniqueName('group');
  const config = engineConfig();
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS });
  const { topic, admin } = paymentsTopic;
  const send = (payments: Payment[]) => paymentsTopic.send(payments);
  const ch = clickhouse();
  const redis = new Redis(requireService('REDIS_URL'));
  const checkpointKeys = Array.from({ length: PARTITIONS }, (_, partition) => RedisCheckpointStore.keyOf('card-fraud', groupId, `${topic}:${partition}`));
  const processes: ChildProcess[] = [];
  t.after(async () => {
    for (const child of processes) child.kill('SIGKILL');
    await redis.del(...checkpointKeys);
    redis.disconnect();
    await paymentsTopic.close();
    await ch.close();
  });

  // 24,000 payments of 400 cards over 24 minutes of event time, then one event per partition ten
  // minutes later that closes every window.
  const generator = new CardPaymentModel({ seed: 11, cards: 400, lateShare: 0, fraudRate: 0.01 });
  const payments = Array.from({ length: EVENTS }, (_, i) => generator.next(START + i * 60).payment);
  const firstPart = payments.slice(0, 10_000);
  const killedDuring = payments.slice(10_000, 16_000);
  const rest = payments.slice(16_000);

  const env = durableEngineEnv({ config, groupId, topic, prefix });

  // First engine: the first part, checkpointed, then killed while it processes the second.
  const first = startEngineProcess(env);
  processes.push(first.child);
  await send(firstPart);
  const committedAll = async (count: number) => {
    const committed = await admin.committedOffsets(groupId, topic);
    return committed.reduce((total, { offset }) => total + Math.max(0, Number(offset)), 0) >= count;
  };
  await waitFor('a checkpoint covering the first part (committed offsets)', () => committedAll(firstPart.length), Boolean, 90_000).catch((error) => {
    throw new Error(`${error.message}\nengine output:\n${first.output().slice(-4000)}`);
  });
  let openSlices = 0;
  for (const key of checkpointKeys) {
    const saved = deserialize((await redis.hgetBuffer(key, 'data'))!) as PartitionCheckpoint;
    assert.deepEqual([...saved.steps.keys()].sort(), ['card-1m', 'card-5m']);
    openSlices += (deserialize(saved.steps.get('card-5m')!) as { state: { slices: { slices: unknown[] } } }).state.slices.slices.length;
  }
  assert.ok(openSlices > 0, 'the checkpoints hold open windows');

  await send(killedDuring);
  await waitFor('the first engine to be processing the second part', async () => {
    const [row] = await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}payments`);
    return Number(row!.n);
  }, (n) => n > firstPart.length, 60_000);
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, null, 'killed by the signal, not exited');

  // The rest arrives while no engine runs; a second engine resumes from the checkpoint.
  await send(rest);
  await paymentsTopic.sendWatermarkEvents(payments);
  const second = startEngineProcess(env);
  const restartedAt = performance.now();
  processes.push(second.child);

  // Meanwhile an uninterrupted run of the same topology over the same topic (own group, own tables).
  const uninterrupted = await Engine.start(createCardFraudTopology({ topic, tablePrefix: referencePrefix }), { config: engineConfig(), logger: silentLogger, push: false });
  t.after(() => uninterrupted.stop());

  const expected = referenceCardFeatures(payments);
  const distinctFeatures = async (tablePrefix: string) =>
    (await queryRows<Record<string, unknown>>(ch, `SELECT DISTINCT * FROM ${tablePrefix}card_features ORDER BY cardId, windowEnd`)).map(toFeatures);
  await waitFor('every window of the restarted run', async () => (await distinctFeatures(prefix)).length, (n) => n >= expected.length, 120_000).catch((error) => {
    throw new Error(`${error.message}\nsecond engine output:\n${second.output().slice(-4000)}`);
  });
  await waitFor('every window of the uninterrupted run', async () => (await distinctFeatures(referencePrefix)).length, (n) => n >= expected.length, 120_000);
  console.log(`[fault] kill -9 and restart: every window of the restarted run in ClickHouse ${((performance.now() - restartedAt) / 1000).toFixed(1)} s after the second process started`);
  assert.match(second.output(), /resuming window state from checkpoint/);

  // Window results: the restarted run equals the uninterrupted run and the independent reference,
  // window for window. Rows emitted between the last checkpoint and the kill are written again
  // after the restart (identical duplicates, allowed here: idempotent inserts are the
  // effectively-once work); no window may have two different results.
  const restarted = await distinctFeatures(prefix);
  const reference = await distinctFeatures(referencePrefix);
  assert.equal(restarted.length, expected.length, 'one distinct result per card and window');
  assert.deepEqual(restarted.sort(byCardAndEnd).map(inCents), expected.map(inCents));
  assert.deepEqual(reference.sort(byCardAndEnd).map(inCents), expected.map(inCents));
  const [predictions] = await queryRows<{ windows: string }>(ch, `SELECT uniqExact(cardId, windowEnd) AS windows FROM ${prefix}fraud_predictions`);
  assert.equal(Number(predictions!.windows), expected.length, 'one prediction per window');

  // Replays are harmless (replacing tables keyed by provenance and by card and window): exactly
  // N distinct events, and after a final merge exactly N rows, one feature row and one
  // prediction per window.
  const count = async (sql: string) => Number((await queryRows<{ n: string }>(ch, sql))[0]!.n);
  const events = EVENTS + PARTITIONS;
  // Every window being in ClickHouse does not mean the raw payments' last insert is: it is a
  // separate sink, flushed on its own timer (a CI run once read 20,844 of 24,003 here).
  const distinctEvents = () => count(`SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`);
  await waitFor('every payment of the restarted run', distinctEvents, (n) => n >= events, 60_000);
  assert.equal(await distinctEvents(), events);
  for (const table of ['payments', 'card_features', 'fraud_predictions']) await ch.command({ query: `OPTIMIZE TABLE ${prefix}${table} FINAL` });
  assert.equal(await count(`SELECT count() AS n FROM ${prefix}payments`), events);
  assert.equal(await count(`SELECT count() AS n FROM ${prefix}card_features`), expected.length);
  assert.equal(await count(`SELECT count() AS n FROM ${prefix}fraud_predictions`), expected.length);

  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0, `clean exit on SIGTERM:\n${second.output().slice(-2000)}`);
});
