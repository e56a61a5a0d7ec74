import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, TributaryError } from '../../../src/core/errors.ts';
import { lookupTable } from '../../../src/tables/lookup-table.ts';

const MINUTE = 60_000;

/** A table on a clock the test moves by hand. */
function tableWithClock(ttl?: string) {
  const clock = { now: 1_000_000 };
  const table = lookupTable<{ tier: string }>({ name: 'merchants', ttl, clock: () => clock.now });
  return { table, clock };
}

test('the latest value per key wins; delete removes a key (a tombstone)', () => {
  const { table } = tableWithClock();
  table.apply('m1', { tier: 'low' });
  table.apply('m2', { tier: 'medium' });
  table.apply('m1', { tier: 'high' });
  assert.deepEqual(table.get('m1'), { tier: 'high' });
  assert.deepEqual(table.get('m2'), { tier: 'medium' });
  assert.equal(table.size, 2);
  assert.equal(table.delete('m2'), true);
  assert.equal(table.get('m2'), undefined);
  assert.equal(table.has('m2'), false);
  assert.equal(table.delete('m2'), false, 'deleting an absent key is harmless');
  assert.equal(table.get('nope'), undefined);
});

test('TTL: an entry not updated for ttl is missing (lazily evicted on lookup), an update restarts it', () => {
  const { table, clock } = tableWithClock('10m');
  table.apply('m1', { tier: 'low' });
  clock.now += 10 * MINUTE - 1;
  assert.deepEqual(table.get('m1'), { tier: 'low' }, 'alive 1 ms before its TTL');
  table.apply('m2', { tier: 'high' });
  clock.now += 1;
  assert.equal(table.size, 2, 'nothing evicted until the table is used');
  assert.equal(table.get('m1'), undefined, 'expired exactly ttl after its update');
  assert.equal(table.size, 1, 'the lookup evicted it');
  assert.equal(table.expiredCount, 1);
  table.apply('m2', { tier: 'medium' }); // an update restarts the TTL
  clock.now += 10 * MINUTE - 1;
  assert.deepEqual(table.get('m2'), { tier: 'medium' });
  clock.now += 1;
  assert.equal(table.has('m2'), false);
});

test('TTL counts from the update time given (the record timestamp), capped at now', () => {
  const { table, clock } = tableWithClock('1h');
  table.apply('old', { tier: 'low' }, clock.now - 2 * 60 * MINUTE); // written two hours ago
  table.apply('recent', { tier: 'low' }, clock.now - 59 * MINUTE);
  table.apply('future', { tier: 'low' }, clock.now + 24 * 60 * MINUTE); // a skewed producer clock
  table.apply('bad-time', { tier: 'low' }, Number.NaN);
  assert.equal(table.get('old'), undefined);
  assert.deepEqual(table.get('recent'), { tier: 'low' });
  clock.now += 60 * MINUTE;
  assert.equal(table.get('future'), undefined, 'a timestamp ahead of the clock counts as now');
  assert.equal(table.get('bad-time'), undefined);
});

test('sweep evicts every expired entry at once; maintain does it in bounded steps, when due', () => {
  const { table, clock } = tableWithClock('1m');
  for (let i = 0; i < 2_500; i++) table.apply(`k${i}`, { tier: 'low' });
  clock.now += MINUTE;
  for (let i = 0; i < 10; i++) table.apply(`fresh${i}`, { tier: 'high' });
  // maintain examines at most 1,000 entries per call.
  table.maintain();
  assert.equal(table.size, 2_510 - 1_000);
  table.maintain();
  table.maintain();
  assert.equal(table.size, 10, 'the pass is complete: only fresh entries are left');
  assert.equal(table.expiredCount, 2_500);
  // The next pass waits min(ttl, 1 min): nothing happens before.
  clock.now += MINUTE;
  table.apply('late', { tier: 'low' });
  clock.now -= 1;
  table.maintain();
  assert.equal(table.size, 11);
  assert.equal(table.sweep(clock.now + 1), 10, 'sweep ignores the schedule');
  assert.equal(table.size, 1);
});

test('without a TTL entries never expire', () => {
  const { table, clock } = tableWithClock();
  table.apply('m1', { tier: 'low' });
  clock.now += 10 * 365 * 24 * 60 * MINUTE;
  table.maintain();
  assert.equal(table.sweep(), 0);
  assert.deepEqual(table.get('m1'), { tier: 'low' });
  assert.equal(table.ttlMs, Infinity);
});

test('invalid names, TTLs and values are refused with the field and the fix', () => {
  assert.throws(() => lookupTable({ name: 'Merchants!' }), (error: ConfigError) => error.field === 'table.name' && /Fix: use lowercase/.test(error.message));
  assert.throws(() => lookupTable({ name: 'm', ttl: 'soon' }), (error: ConfigError) => error.field === 'tables.m.ttl');
  assert.throws(() => lookupTable({ name: 'm', ttl: 0 }), (error: ConfigError) => error.field === 'tables.m.ttl');
  const table = lookupTable<unknown>({ name: 'm' });
  assert.throws(() => table.apply('k', undefined), (error: TributaryError) => error.code === 'TABLE_VALUE');
  assert.throws(() => table.apply('k', null), (error: TributaryError) => error.code === 'TABLE_VALUE');
});
