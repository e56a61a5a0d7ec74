import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize } from 'node:v8';
import { Checkpointer } from '../../../src/runtime/checkpointer.ts';
import { EventTimeClock } from '../../../src/runtime/event-time-clock.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { MemoryCheckpointStore, type Checkpoint } from '../../../src/state/checkpoint-store.ts';
import { StateRegistry } from '../../../src/state/step-state.ts';

function setup(resumed: Checkpoint | null = null) {
  const store = new MemoryCheckpointStore();
  const registry = new StateRegistry({ durable: true, restored: resumed?.steps });
  let counter = 0;
  registry.register('counter', { snapshot: () => ({ counter }), restore: (state) => (counter = (state as { counter: number }).counter) });
  const clock = new EventTimeClock(0);
  clock.assign(['t:0', 't:1']);
  if (resumed) clock.restore(resumed.clock);
  const checkpointer = new Checkpointer(store, registry, clock, { topology: 'test', intervalMs: 0, logger: silentLogger, metrics: new Metrics() }, resumed);
  return { store, registry, clock, checkpointer, add: (n: number) => (counter += n), counter: () => counter };
}

const offsets = (entries: Record<string, number>) => new Map(Object.entries(entries).map(([key, offset]) => [key, BigInt(offset)]));

test('a capture is saved only once the sinks acknowledged everything before it; only saved offsets are committed', async () => {
  const { store, checkpointer, clock, add } = setup();
  assert.equal(checkpointer.due, false, 'nothing processed yet');
  add(5);
  clock.observe('t:0', 1_000);
  clock.observe('t:1', 2_000);
  checkpointer.noteProcessed('t:0', 9n);
  checkpointer.noteProcessed('t:1', 4n);
  assert.equal(checkpointer.due, true);
  await checkpointer.capture();
  add(100); // later records change the live state, not the capture
  assert.equal(checkpointer.due, false, 'one capture at a time');

  assert.deepEqual(await checkpointer.commitGate(offsets({ 't:0': 10, 't:1': 3 })), [], 'partition 1 not fully acknowledged: nothing saved or committed');
  assert.equal(store.saves, 0);

  const committed = await checkpointer.commitGate(offsets({ 't:0': 12, 't:1': 5 }));
  assert.deepEqual(committed, [
    { topic: 't', partition: 0, offset: '10' },
    { topic: 't', partition: 1, offset: '5' },
  ]);
  const saved = (await store.load())!;
  assert.deepEqual(deserialize(saved.steps.get('counter')!), { definition: '', state: { counter: 5 } });
  assert.deepEqual(saved.clock, { watermark: 1_000, partitionMax: new Map([['t:0', 1_000], ['t:1', 2_000]]) });
});

test('a restarted checkpointer restores the state, resumes after the saved offsets and keeps them committable', async () => {
  const first = setup();
  first.add(7);
  first.checkpointer.noteProcessed('t:0', 41n);
  await first.checkpointer.capture();
  await first.checkpointer.commitGate(offsets({ 't:0': 42 }));
  const checkpoint = (await first.store.load())!;

  const second = setup(checkpoint);
  assert.equal(second.counter(), 7);
  assert.deepEqual(second.checkpointer.resumeFrom(), offsets({ 't:0': 42 }));
  assert.equal(second.checkpointer.due, false, 'no progress since the checkpoint');
  assert.deepEqual(await second.checkpointer.commitGate(new Map()), [{ topic: 't', partition: 0, offset: '42' }]);
  second.checkpointer.noteProcessed('t:1', 0n);
  await second.checkpointer.capture();
  // Partition 0 made no progress, so only partition 1 needs acknowledging.
  const committed = await second.checkpointer.commitGate(offsets({ 't:1': 1 }));
  assert.deepEqual(committed, [
    { topic: 't', partition: 0, offset: '42' },
    { topic: 't', partition: 1, offset: '1' },
  ]);
});

test('a failed save keeps the capture pending and the previous offsets; after a fatal error nothing newer is saved', async () => {
  const { store, checkpointer, add } = setup();
  add(1);
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
