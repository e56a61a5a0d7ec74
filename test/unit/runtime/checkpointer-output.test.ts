import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Checkpointer } from '../../../src/runtime/checkpointer.ts';
import { MemoryCheckpointStore } from '../../../src/state/checkpoint-store.ts';
import { StateRegistry } from '../../../src/core/step-state.ts';
import { EventTimeClock } from '../../../src/core/event-time-clock.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import type { TransactionalOutput } from '../../../src/sinks/sink.ts';

/** A transactional output that records the protocol's calls; `rows` per partition are what it holds. */
function recordingOutput() {
  const rows = new Map<string, string[]>();
  const calls: string[] = [];
  const output: TransactionalOutput = {
    name: 'kafka:out',
    holds: (partition) => (rows.get(partition)?.length ?? 0) > 0,
    capture: (partition) => {
      calls.push(`capture ${partition} [${rows.get(partition)?.join(',') ?? ''}]`);
      return new TextEncoder().encode(rows.get(partition)?.join(',') ?? '');
    },
    commit: async (checkpoints) => {
      for (const c of checkpoints) {
        calls.push(`commit ${c.partition}@${c.offset} [${new TextDecoder().decode(c.output)}]`);
        rows.delete(c.partition);
      }
    },
    restore: async (partition, checkpoint) => void calls.push(`restore ${partition} ${checkpoint ? `@${checkpoint.offset} [${new TextDecoder().decode(checkpoint.output)}]` : 'none'}`),
    revoke: (partition) => void calls.push(`revoke ${partition}`),
  };
  return { output, rows, calls };
}

test('with a transactional output, checkpoints carry its rows, its transactions commit the offsets (the source commits none), and a checkpoint is due when it holds rows without new offsets', async () => {
  const store = new MemoryCheckpointStore();
  const registry = new StateRegistry({ durable: true });
  registry.register('counter', { snapshot: () => ({ n: 1 }), restore: () => {} });
  const clock = new EventTimeClock(0);
  clock.assign(['t:0']);
  const { output, rows, calls } = recordingOutput();
  const checkpointer = new Checkpointer(store, { snapshot: () => registry.snapshot(), whenAsyncIdle: async () => {} }, clock, { topology: 'test', intervalMs: 0, logger: silentLogger, metrics: new Metrics(), outputs: [output] });

  assert.equal(await checkpointer.load('t:0'), null);
  checkpointer.noteProcessed('t:0', 9n);
  rows.set('t:0', ['a', 'b']);
  assert.ok(checkpointer.due);
  await checkpointer.capture();
  rows.get('t:0')!.push('c'); // emitted after the capture: the next checkpoint's
  assert.deepEqual(await checkpointer.commitGate(new Map([['t:0', 10n]])), [], 'offsets are committed by the transactions');
  assert.equal(store.latest.get('t:0')?.offset, '10');
  assert.deepEqual(new TextDecoder().decode(store.latest.get('t:0')!.output), 'a,b', 'the checkpoint holds the captured rows');

  // A window closed by another partition's progress: rows but no new offset, still a checkpoint.
  rows.set('t:0', ['c']);
  assert.ok(checkpointer.due);
  await checkpointer.capture();
  await checkpointer.commitGate(new Map([['t:0', 10n]]));
  assert.equal(store.latest.get('t:0')?.offset, '10');

  // The next owner: restore sees the last saved checkpoint before any record.
  const next = new Checkpointer(store, { snapshot: () => undefined, whenAsyncIdle: async () => {} }, clock, { topology: 'test', intervalMs: 0, logger: silentLogger, metrics: new Metrics(), outputs: [output] });
  await next.load('t:0');
  assert.deepEqual(calls, ['revoke t:0', 'restore t:0 none', 'capture t:0 [a,b]', 'commit t:0@10 [a,b]', 'capture t:0 [c]', 'commit t:0@10 [c]', 'revoke t:0', 'restore t:0 @10 [c]']);
});

test('two exactly-once outputs in one topology are refused', () => {
  const a = recordingOutput().output;
  const b = { ...recordingOutput().output, name: 'kafka:other' };
  assert.throws(() => new Checkpointer(new MemoryCheckpointStore(), { snapshot: () => undefined, whenAsyncIdle: async () => {} }, new EventTimeClock(0), { topology: 'test', intervalMs: 0, logger: silentLogger, metrics: new Metrics(), outputs: [a, b] }), /kafka:out and kafka:other are both exactly-once outputs/);
});
