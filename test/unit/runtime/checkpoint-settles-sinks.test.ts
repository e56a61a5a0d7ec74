import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionTasks, type PartitionTasksOptions } from '../../../src/runtime/partition-tasks.ts';
import type { SinkSet } from '../../../src/runtime/sink-set.ts';

test('before a checkpoint captures the sinks, rows on their way to them (deferred storage writes, governed masking) are handed on', async () => {
  const order: string[] = [];
  // Only what whenAsyncIdle touches: no tasks yet, and the sinks' settle.
  const sinks = { settle: async () => void order.push('sinks settled') } as unknown as SinkSet;
  const tasks = new PartitionTasks({ sinks } as unknown as PartitionTasksOptions);
  await tasks.whenAsyncIdle();
  order.push('capture');
  assert.deepEqual(order, ['sinks settled', 'capture']);
});
