import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { RedisCheckpointStore } from '../../src/state/redis-checkpoint-store.ts';
import { assertExactCardFraudResults, waitForCardFraudResults } from '../helpers/fault-run.ts';
import { durableEngineEnv, startEngineProcess, type EngineProcess } from '../helpers/engine-process.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { clickhouse, engineConfig, queryRows, requireService, uniqueName, waitFor } from '../helpers/services.ts';

const PARTITIONS = 4;
const EVENTS = 24_000;
const START = Date.UTC(2026, 10, 4, 9, 0, 0);

const sorted = (values: readonly string[]) => [...values].sort();

test('fault: scale-out and SIGKILL of one of two instances in a group; partitions move with their window state; exact results', { timeout: 400_000 }, async (t) => {
  const prefix = `${uniqueName('s')}_`;
  const groupId = uniqueName('group');
  const config = engineConfig();
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS });
  const { topic, admin } = paymentsTopic;
  const ch = clickhouse();
  const redis = new Redis(requireService('REDIS_URL'));
  const processes: ChildProcess[] = [];
  t.after(async () => {
    for (const child of processes) child.kill('SIGKILL');
    await redis.del(...Array.from({ length: PARTITIONS }, (_, partition) => RedisCheckpointStore.keyOf('card-fraud', groupId, `${topic}:${partition}`)));
    redis.disconnect();
    await paymentsTopic.close();
    await ch.close();
  });

  const generator = new CardPaymentModel({ seed: 13, cards: 400, lateShare: 0, fraudRate: 0.01 });
  const payments: Payment[] = Array.from({ length: EVENTS }, (_, i) => generator.next(START + i * 60).payment);
  const env = durableEngineEnv({ config, groupId, topic, prefix });
  const start = () => {
    const engine = startEngineProcess(env);
    processes.push(engine.child);
    return engine;
  };
  const committed = async () => (await admin.committedOffsets(groupId, topic)).reduce((total, { offset }) => total + Math.max(0, Number(offset)), 0);
  const waitForCommitted = (count: number, engines: EngineProcess[]) =>
    waitFor(`committed offsets covering ${count} events`, committed, (n) => n >= count, 90_000).catch((error) => {
      throw new Error(`${error.message}\n${engines.map((engine) => engine.output().slice(-3000)).join('\n---\n')}`);
    });
  const rawEvents = async () => Number((await queryRows<{ n: string }>(ch, `SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`))[0]!.n);

  // One instance reads all partitions and checkpoints each.
  const a = start();
  await paymentsTopic.send(payments.slice(0, 8_000));
  await waitForCommitted(8_000, [a]);
  assert.equal(a.assigned().length, PARTITIONS);

  // Scale out: a second instance joins. The group splits the partitions; the new one restores
  // each partition it receives from the first one's checkpoint before processing it.
  const b = start();
  await waitFor('both instances to hold partitions', async () => [a.assigned(), b.assigned()], ([ofA, ofB]) => ofA.length > 0 && ofB.length > 0 && new Set([...ofA, ...ofB]).size === PARTITIONS, 90_000);
  const movedToB = sorted(b.assigned());
  await paymentsTopic.send(payments.slice(8_000, 16_000));
  await waitForCommitted(16_000, [a, b]);
  assert.deepEqual(sorted(b.resumed()), movedToB, 'the new instance resumed each partition it received from its checkpoint');

  // SIGKILL the second instance while it processes; the first takes its partitions back with the
  // state the second had checkpointed.
  await paymentsTopic.send(payments.slice(16_000, 20_000));
  await waitFor('both instances to be processing the third part', rawEvents, (n) => n > 16_000, 60_000);
  b.child.kill('SIGKILL');
  const killedAt = performance.now();
  assert.equal(await b.exited, null, 'killed by the signal, not exited');
  await paymentsTopic.send(payments.slice(20_000));
  await paymentsTopic.sendWatermarkEvents(payments);
  await waitFor('the surviving instance to take every partition', async () => a.assigned().length, (n) => n === PARTITIONS, 120_000);
  const takeover = (performance.now() - killedAt) / 1000;
  await waitForCardFraudResults(ch, prefix, payments, PARTITIONS, 180_000, () => a.output().slice(-3000));
  const recovery = (performance.now() - killedAt) / 1000;
  assert.deepEqual(sorted(a.resumed()), movedToB, 'the survivor resumed exactly the partitions of the killed instance from their checkpoints');

  await assertExactCardFraudResults(ch, prefix, payments, PARTITIONS);
  console.log(`[fault] SIGKILL of one of two instances: its partitions reassigned after ${takeover.toFixed(1)} s (Kafka session timeout 30 s), all results in ClickHouse ${recovery.toFixed(1)} s after the kill`);

  a.child.kill('SIGTERM');
  assert.equal(await a.exited, 0, `clean exit on SIGTERM:\n${a.output().slice(-2000)}`);
});
