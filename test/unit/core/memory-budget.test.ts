import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMemoryBudget } from '../../../src/core/memory-budget.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { loadConfig } from '../../../src/topology/config.ts';
import { DEFAULT_MEMORY_MB, MIN_MEMORY_MB, heapFlagsGiven, parseMemoryMb, v8FlagsFor, v8FlagsForBudget } from '../../../bin/memory-flags.js';

const MB = 1024 * 1024;

test('unset, the budget is 512 MB: 32 MB of records in flight, 2 MB fetches, 512 KB per partition', () => {
  assert.deepEqual(loadMemoryBudget({}), { memoryMb: 512, maxInFlightBytes: 32 * MB, fetchMaxBytes: 2 * MB, fetchMaxBytesPerPartition: 512 * 1024 });
  assert.deepEqual(loadConfig({}).memory, { memoryMb: 512, maxInFlightBytes: 32 * MB, fetchMaxBytes: 2 * MB, fetchMaxBytesPerPartition: 512 * 1024 });
});

test('a small budget shrinks fetches and the in-flight bytes with it, within their floors', () => {
  // A budget that was set takes 1/1024 for a fetch (at least 256 KB), the default one 1/256.
  assert.deepEqual(loadMemoryBudget({ TRIBUTARY_MEMORY_MB: '512' }), { memoryMb: 512, maxInFlightBytes: 32 * MB, fetchMaxBytes: 512 * 1024, fetchMaxBytesPerPartition: 128 * 1024 });
  assert.deepEqual(loadMemoryBudget({ TRIBUTARY_MEMORY_MB: '256' }), { memoryMb: 256, maxInFlightBytes: 16 * MB, fetchMaxBytes: 256 * 1024, fetchMaxBytesPerPartition: 64 * 1024 });
  assert.deepEqual(loadMemoryBudget({ TRIBUTARY_MEMORY_MB: '128' }), { memoryMb: 128, maxInFlightBytes: 8 * MB, fetchMaxBytes: 256 * 1024, fetchMaxBytesPerPartition: 64 * 1024 });
  assert.equal(loadMemoryBudget({ TRIBUTARY_MEMORY_MB: '8192' }).fetchMaxBytes, 8 * MB);
  // Large budgets stop at kafkajs' 16 MB.
  assert.equal(loadMemoryBudget({ TRIBUTARY_MEMORY_MB: '65536' }).fetchMaxBytes, 16 * MB);
});

test('TRIBUTARY_MAX_IN_FLIGHT_BYTES overrides the derived bound', () => {
  assert.equal(loadMemoryBudget({ TRIBUTARY_MAX_IN_FLIGHT_BYTES: '1048576' }).maxInFlightBytes, MB);
});

test('bad settings are ConfigErrors naming the setting and the fix', () => {
  const cases: Array<[Record<string, string>, string, RegExp]> = [
    [{ TRIBUTARY_MEMORY_MB: '64' }, 'TRIBUTARY_MEMORY_MB', /at least 128.*TRIBUTARY_MEMORY_MB=512/],
    [{ TRIBUTARY_MEMORY_MB: '1g' }, 'TRIBUTARY_MEMORY_MB', /"1g" is not a whole number/],
    [{ TRIBUTARY_MAX_IN_FLIGHT_BYTES: 'lots' }, 'TRIBUTARY_MAX_IN_FLIGHT_BYTES', /"lots".*TRIBUTARY_MAX_IN_FLIGHT_BYTES=33554432/],
    [{ TRIBUTARY_MEMORY_MB: '256', TRIBUTARY_MAX_IN_FLIGHT_BYTES: String(200 * MB) }, 'TRIBUTARY_MAX_IN_FLIGHT_BYTES', /more than half of the memory budget.*raise TRIBUTARY_MEMORY_MB/],
  ];
  for (const [env, field, message] of cases) {
    assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && error.field === field && message.test(error.message), JSON.stringify(env));
  }
});

test("bin/tributary.js's V8 flags: 60% old space, semi-space 1/16 of the budget within 1-32 MB, the old space growing 2x past what a mark-compact left", () => {
  assert.deepEqual(v8FlagsForBudget(512), ['--max-old-space-size=307', '--max-semi-space-size=32', '--heap-growing-percent=100']);
  assert.deepEqual(v8FlagsForBudget(300), ['--max-old-space-size=180', '--max-semi-space-size=18', '--heap-growing-percent=100']);
  assert.deepEqual(v8FlagsForBudget(128), ['--max-old-space-size=76', '--max-semi-space-size=8', '--heap-growing-percent=100']);
  assert.deepEqual(v8FlagsForBudget(8192), ['--max-old-space-size=4915', '--max-semi-space-size=32', '--heap-growing-percent=100']);
  // The same default and floor as the engine's check, which reports what the launcher skips.
  assert.equal(DEFAULT_MEMORY_MB, loadMemoryBudget({}).memoryMb);
  assert.equal(parseMemoryMb(undefined), 512);
  assert.equal(parseMemoryMb('300'), 300);
  assert.equal(parseMemoryMb(String(MIN_MEMORY_MB - 1)), null);
  assert.throws(() => loadMemoryBudget({ TRIBUTARY_MEMORY_MB: String(MIN_MEMORY_MB - 1) }), ConfigError);
  assert.equal(parseMemoryMb('1g'), null);
});

test('without TRIBUTARY_MEMORY_MB only the semi-space is chosen; a set budget caps the old space too; an invalid one starts nothing', () => {
  assert.deepEqual(v8FlagsFor(undefined), ['--max-semi-space-size=4']);
  assert.deepEqual(v8FlagsFor(' '), ['--max-semi-space-size=4']);
  assert.deepEqual(v8FlagsFor('512'), ['--max-old-space-size=307', '--max-semi-space-size=32', '--heap-growing-percent=100']);
  assert.equal(v8FlagsFor('64'), null);
});

test("an operator's own heap flags win over the budget's", () => {
  assert.equal(heapFlagsGiven(['--max-old-space-size=1024'], undefined), true);
  assert.equal(heapFlagsGiven([], '--enable-source-maps --max-semi-space-size=8'), true);
  assert.equal(heapFlagsGiven([], '--heap-growing-percent=50'), true);
  assert.equal(heapFlagsGiven(['--import', 'tsx'], '--enable-source-maps'), false);
});
