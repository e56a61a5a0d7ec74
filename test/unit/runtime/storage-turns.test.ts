import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageTurns } from '../../../src/runtime/storage-turns.ts';

test('a turn is never granted within the current turn, even with nothing busy', async () => {
  const turns = new StorageTurns(60_000);
  let granted = false;
  const next = turns.next(performance.now()).then(() => (granted = true));
  await Promise.resolve();
  assert.equal(granted, false, 'a slice must let the event loop run before the next one');
  await next;
  assert.equal(granted, true);
});

test('turns wait while the close path is busy and come once it is done', async () => {
  const turns = new StorageTurns(60_000);
  let busy = true;
  turns.watch(() => busy);
  let granted = false;
  const next = turns.next(performance.now()).then(() => (granted = true));
  await sleep(40);
  assert.equal(granted, false, 'no turn while busy');
  busy = false;
  await next;
  assert.equal(granted, true);
});

test('work that began maxWaitMs ago gets its turn however long the close path stays busy', async () => {
  const turns = new StorageTurns(30);
  turns.watch(() => true);
  const since = performance.now();
  await turns.next(since);
  assert.ok(performance.now() - since >= 30, 'not before the bound');
  // Past the bound, the next turns of the same work come without waiting again.
  let granted = false;
  const next = turns.next(since).then(() => (granted = true));
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(granted, true);
  await next;
});
