import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingWriters, StateUnavailableError } from '../../../src/state/key-value-store.ts';
import { MemoryKeyValueStore } from '../../../src/state/memory-store.ts';
import { ConnectionError } from '../../../src/core/errors.ts';

test('lookup returns the value, not stale, with its age from updatedAt', async () => {
  const store = new MemoryKeyValueStore();
  const updatedAt = Date.now() - 1_500;
  await store.setMany([['card:1', { value: { n: 3 }, eventTime: 1, updatedAt }]]);
  const found = await store.lookup<{ value: { n: number } }>('card:1');
  assert.deepEqual(found.value?.value, { n: 3 });
  assert.equal(found.stale, false);
  assert.ok(found.ageMs !== undefined && found.ageMs >= 1_500 && found.ageMs < 10_000, `age ${found.ageMs}`);
});

test('a missing key or a value without updatedAt has no age', async () => {
  const store = new MemoryKeyValueStore();
  await store.setMany([['plain', 42], ['object', { n: 1 }]]);
  assert.deepEqual(await store.lookup('missing'), { value: undefined, stale: false, ageMs: undefined });
  assert.deepEqual(await store.lookup('plain'), { value: 42, stale: false, ageMs: undefined });
  assert.equal((await store.lookup('object')).ageMs, undefined);
});

test('lookups are stale while any writer reports pending updates', async () => {
  const store = new MemoryKeyValueStore();
  await store.setMany([['k', 1]]);
  store.setPending('state:features:', true);
  store.setPending('state:predictions:', true);
  assert.equal(store.stale, true);
  assert.equal((await store.lookup('k')).stale, true);
  assert.equal(await store.get('k'), 1, 'get is unchanged');
  store.setPending('state:features:', false);
  assert.equal((await store.lookup('k')).stale, true, 'one writer is still behind');
  store.setPending('state:predictions:', false);
  assert.equal((await store.lookup('k')).stale, false);
});

test('PendingWriters: a future updatedAt reads as age 0; reporting twice is idempotent', () => {
  const writers = new PendingWriters();
  assert.equal(writers.lookup({ updatedAt: Date.now() + 60_000 }).ageMs, 0);
  writers.set('w', true);
  writers.set('w', true);
  writers.set('w', false);
  assert.equal(writers.stale, false);
});

test('StateUnavailableError is a retriable ConnectionError', () => {
  const error = new StateUnavailableError('reading k failed');
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.retriable, true);
  assert.match(error.message, /Redis: reading k failed \(hot state unavailable; retriable\)/);
});
