import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { MemoryKeyValueStore } from '../../../src/state/memory-store.ts';

/** Waits (yielding to the event loop) until the wall clock reaches `time`. */
async function until(time: number): Promise<void> {
  while (Date.now() < time) await turn();
}

test('setMany stores every entry and get reads it back', async () => {
  const store = new MemoryKeyValueStore();
  assert.equal(store.kind, 'memory');
  await store.setMany([
    ['card:1', { n: 3, total: 12.5 }],
    ['card:2', { n: 1, total: 4 }],
  ]);
  assert.deepEqual(await store.get('card:1'), { n: 3, total: 12.5 });
  assert.deepEqual(await store.get<{ n: number }>('card:2'), { n: 1, total: 4 });
  assert.equal(store.size, 2);
});

test('a missing key reads as undefined', async () => {
  const store = new MemoryKeyValueStore();
  assert.equal(await store.get('nothing'), undefined);
});

test('a later write replaces the value; within one call the last entry wins', async () => {
  const store = new MemoryKeyValueStore();
  await store.setMany([['k', 1]]);
  await store.setMany([['k', 2], ['k', 3]]);
  assert.equal(await store.get('k'), 3);
  assert.equal(store.size, 1);
});

test('falsy values are stored, not mistaken for missing keys', async () => {
  const store = new MemoryKeyValueStore();
  await store.setMany([['zero', 0], ['empty', ''], ['no', false], ['null', null]]);
  assert.equal(await store.get('zero'), 0);
  assert.equal(await store.get('empty'), '');
  assert.equal(await store.get('no'), false);
  assert.equal(await store.get('null'), null);
});

test('ttl 0 keeps entries forever', async () => {
  const store = new MemoryKeyValueStore();
  await store.setMany([['k', 'v']], 0);
  const after = Date.now() + 3;
  await until(after);
  assert.equal(await store.get('k'), 'v');
});

test('entries expire after their ttl and are dropped on read', async () => {
  const store = new MemoryKeyValueStore();
  await store.setMany([['short', 1]], 1);
  const written = Date.now(); // the entry expires at the latest at written + 1
  await store.setMany([['long', 2]], 60_000);
  await store.setMany([['forever', 3]]);
  assert.equal(store.size, 3);
  await until(written + 1);
  assert.equal(await store.get('short'), undefined);
  assert.equal(store.size, 2, 'the expired entry was removed when read');
  assert.equal(await store.get('long'), 2);
  assert.equal(await store.get('forever'), 3);
});

test('writing a key again renews its ttl', async () => {
  const store = new MemoryKeyValueStore();
  await store.setMany([['k', 'old']], 1);
  await until(Date.now() + 2);
  await store.setMany([['k', 'new']], 60_000);
  assert.equal(await store.get('k'), 'new');
});

test('close empties the store', async () => {
  const store = new MemoryKeyValueStore();
  await store.setMany([['a', 1], ['b', 2]]);
  await store.close();
  assert.equal(store.size, 0);
  assert.equal(await store.get('a'), undefined);
});
