import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize } from 'node:v8';
import { Checkpointer } from '../../../src/runtime/checkpointer.ts';
import { EventTimeClock } from '../../../src/core/event-time-clock.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { MemoryCheckpointStore, type PartitionCheckpoint } from '../../../src/state/checkpoint-store.ts';
import { StateRegistry } from '../../../src/core/step-state.ts';

/** Two partition tasks, each with one counter step, checkpointed into `store`. */
function setup(store = new MemoryCheckpointStore()) {
  const counters = new Map<string, number>();
  const registries = new Map<string, StateRegistry>();
  const createTask = (partition: string, restored?: ReadonlyMap<string, Uint8Array>) => {
    const registry = new StateRegistry({ durable: true, restored });
    counters.set(partition, 0);
    registry.register('counter', { snapshot: () => ({ counter: counters.get(partition) }), restore: (state) => counters.set(partition, (state as { counter: number }).counter) });
    registries.set(partition, registry);
  };
  const tasks = {
    snapshot: (partition: string) => registries.get(partition)?.snapshot(),
    whenAsyncIdle: async () => {},
  };
  const clock = new EventTimeClock(0);
  clock.assign(['t:0', 't:1']);
  const checkpointer = new Checkpointer(store, tasks, clock, { topology: 'test', intervalMs: 0, logger: silentLogger, metrics: new Metrics() });
  /** What the engine does when a partition is assigned: load its checkpoint, restore its task and clock. */
  const assign = async (partition: string) => {
    const checkpoint = await checkpointer.load(partition);
    if (checkpoint) clock.restorePartition(partition, checkpoint.clock);
    createTask(partition, checkpoint?.steps);
    return checkpoint;
  };
  const revoke = (partition: string) => {
    registries.delete(partition);
    checkpointer.revoke(partition);
  };
  const add = (partition: string, n: number) => counters.set(partition, counters.get(partition)! + n);
  return { store, clock, checkpointer, assign, revoke, add, counter: (partition: string) => counters.get(partition) };
}

const offsets = (entries: Record<string, number>) => new Map(Object.entries(entries).map(([key, offset]) => [key, BigInt(offset)]));
const counterIn = (checkpoint: PartitionCheckpoint | null) => deserialize(checkpoint!.steps.get('counter')!);

test('each partition is saved once the sinks acknowledged everything before its capture; only saved offsets are committed', async () => {
  const { store, checkpointer, clock, assign, add } = setup();
  await assign('t:0');
  await assign('t:1');
  assert.equal(checkpointer.due, false, 'nothing processed yet');
  add('t:0', 5);
  add('t:1', 2);
  clock.observe('t:0', 1_000);
  clock.observe('t:1', 2_000);
  clock.watermarkOf('t:0');
  checkpointer.noteProcessed('t:0', 9n);
  checkpointer.noteProcessed('t:1', 4n);
  assert.equal(checkpointer.due, true);
  await checkpointer.capture();
  add('t:0', 100); // later records change the live state, not the capture
  assert.equal(checkpointer.due, false, 'one capture at a time');

  // Partition 1 is not fully acknowledged: partition 0 is saved and committable on its own.
  assert.deepEqual(await checkpointer.commitGate(offsets({ 't:0': 10, 't:1': 3 })), [{ topic: 't', partition: 0, offset: '10' }]);
  assert.equal(store.latest.has('t:1'), false);
  const committed = await checkpointer.commitGate(offsets({ 't:0': 12, 't:1': 5 }));
  assert.deepEqual(committed, [
    { topic: 't', partition: 0, offset: '10' },
    { topic: 't', partition: 1, offset: '5' },
  ]);
  const saved = await store.load('t:0');
  assert.deepEqual(counterIn(saved), { definition: '', state: { counter: 5 } });
  assert.deepEqual(saved!.clock, { max: 1_000, watermark: 1_000 });
  assert.equal(saved!.offset, '10');
  assert.deepEqual(counterIn(await store.load('t:1')), { definition: '', state: { counter: 2 } });
});

test('a partition assigned to another instance resumes from its checkpoint and keeps its offset committable', async () => {
  const first = setup();
  await first.assign('t:0');
  first.add('t:0', 7);
  first.clock.observe('t:0', 5_000);
  first.clock.watermarkOf('t:0');
  first.checkpointer.noteProcessed('t:0', 41n);
  await first.checkpointer.capture();
  await first.checkpointer.commitGate(offsets({ 't:0': 42 }));

  const second = setup(first.store);
  assert.equal((await second.assign('t:0'))!.offset, '42');
  assert.equal(second.counter('t:0'), 7);
  assert.equal(second.clock.watermarkOf('t:0'), 5_000, "the partition's watermark comes with it");
  assert.equal(second.checkpointer.due, false, 'no progress since the checkpoint');
  assert.deepEqual(await second.checkpointer.commitGate(new Map()), [{ topic: 't', partition: 0, offset: '42' }]);
  await second.assign('t:1');
  second.checkpointer.noteProcessed('t:1', 0n);
  await second.checkpointer.capture();
  // Partition 0 made no progress, so only partition 1 needs acknowledging.
  assert.deepEqual(await second.checkpointer.commitGate(offsets({ 't:1': 1 })), [
    { topic: 't', partition: 0, offset: '42' },
    { topic: 't', partition: 1, offset: '1' },
  ]);
});

test('a revoked partition: its pending capture is not saved and its offset is no longer committed', async () => {
  const { store, checkpointer, assign, revoke, add } = setup();
  await assign('t:0');
  await assign('t:1');
  add('t:0', 1);
  checkpointer.noteProcessed('t:0', 0n);
  checkpointer.noteProcessed('t:1', 0n);
  await checkpointer.capture();
  revoke('t:1');
  assert.deepEqual(await checkpointer.commitGate(offsets({ 't:0': 1, 't:1': 1 })), [{ topic: 't', partition: 0, offset: '1' }]);
  assert.equal(store.latest.has('t:1'), false);
});

test("an old owner's late save never replaces the new owner's newer checkpoint", async () => {
  const store = new MemoryCheckpointStore();
  const oldOwner = setup(store);
  const newOwner = setup(store);
  await oldOwner.assign('t:0');
  oldOwner.add('t:0', 3);
  oldOwner.checkpointer.noteProcessed('t:0', 9n);
  await oldOwner.checkpointer.capture(); // captured at offset 10, saved only later
  await newOwner.assign('t:0');
  newOwner.add('t:0', 8);
  newOwner.checkpointer.noteProcessed('t:0', 19n);
  await newOwner.checkpointer.capture();
  await newOwner.checkpointer.commitGate(offsets({ 't:0': 20 }));
  await oldOwner.checkpointer.commitGate(offsets({ 't:0': 10 }));
  const saved = await store.load('t:0');
  assert.equal(saved!.offset, '20');
  assert.deepEqual(counterIn(saved), { definition: '', state: { counter: 8 } });
});

test('a failed save keeps the capture pending and the previous offsets; after a fatal error nothing newer is saved', async () => {
  const { store, checkpointer, assign, add } = setup();
  await assign('t:0');
  add('t:0', 1);
  checkpointer.noteProcessed('t:0', 0n);
  await checkpointer.capture();
  const save = store.save.bind(store);
  store.save = async () => {
    throw new Error('Redis is down');
  };
  assert.deepEqual(await checkpointer.commitGate(offsets({ 't:0': 1 })), []);
  store.save = save;
  assert.deepEqual(await checkpointer.commitGate(offsets({ 't:0': 1 })), [{ topic: 't', partition: 0, offset: '1' }]);

  checkpointer.noteProcessed('t:0', 5n);
  await checkpointer.capture();
  checkpointer.abandon();
  assert.deepEqual(await checkpointer.commitGate(offsets({ 't:0': 6 })), [{ topic: 't', partition: 0, offset: '1' }]);
  assert.equal(store.saves, 1);
  assert.equal(checkpointer.due, false);
});

test('two stateful steps with one name are a configuration error naming the fix', () => {
  const registry = new StateRegistry({ durable: true });
  registry.register('card-1m', { snapshot: () => 0, restore: () => {} });
  assert.throws(() => registry.register('card-1m', { snapshot: () => 0, restore: () => {} }), /two stateful steps have the same name.*Fix: give each its own name/);
});
