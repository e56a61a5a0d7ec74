import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { Registry } from 'prom-client';
import { registerMemoryGauges } from '../../../src/observability/process-memory.ts';

test('the memory gauges report the budget, the heap limit and each engine its in-flight bytes', async () => {
  const registry = new Registry();
  let bytes = 1_234;
  const stopA = registerMemoryGauges(registry, { topology: 'a', budgetBytes: 512 * 2 ** 20, inFlightBytes: () => bytes });
  registerMemoryGauges(registry, { topology: 'b', budgetBytes: 512 * 2 ** 20, inFlightBytes: () => 7 });
  bytes = 4_321;
  const text = await registry.metrics();
  assert.match(text, /^tributary_memory_budget_bytes 536870912$/m);
  assert.match(text, new RegExp(`^tributary_heap_limit_bytes ${getHeapStatistics().heap_size_limit}$`, 'm'));
  assert.match(text, /^tributary_in_flight_bytes\{topology="a"\} 4321$/m);
  assert.match(text, /^tributary_in_flight_bytes\{topology="b"\} 7$/m);
  stopA();
  assert.doesNotMatch(await registry.metrics(), /topology="a"/);
});
