import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckToken } from '../../../src/core/ack.ts';
import { DeferredWrites } from '../../../src/runtime/deferred-writes.ts';

function token(done: string[], name: string): AckToken {
  return new AckToken(name, 1n, 1, () => done.push(name));
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(2);
}

test('writes wait while the close path is busy, then run in arrival order, and hold their acks until written', async () => {
  let busy = true;
  const written: number[] = [];
  const committed: string[] = [];
  const deferred = new DeferredWrites({ busy: () => busy, maxDelayMs: 60_000, onError: (error) => assert.fail(String(error)) });
  const a = token(committed, 'a');
  const b = token(committed, 'b');
  deferred.defer(() => written.push(1), [a]);
  deferred.defer(() => written.push(2), [a, b]);
  // The source's own references go: only the deferred writes hold the tokens now.
  a.release();
  b.release();
  await sleep(30);
  assert.deepEqual(written, [], 'nothing written while busy');
  assert.deepEqual(committed, [], 'no offset acknowledged before its rows were written');
  assert.equal(deferred.size, 2);
  busy = false;
  await until(() => written.length === 2);
  assert.deepEqual(written, [1, 2]);
  assert.deepEqual(committed.sort(), ['a', 'b']);
  assert.equal(deferred.size, 0);
});

test('a write waits at most maxDelayMs, however long the close path stays busy', async () => {
  const written: string[] = [];
  const deferred = new DeferredWrites({ busy: () => true, maxDelayMs: 20, onError: (error) => assert.fail(String(error)) });
  deferred.defer(() => written.push('x'), []);
  await until(() => written.length === 1);
  assert.deepEqual(written, ['x']);
});

test('runAll writes everything at once (flush, close); a failing write reaches onError and still releases its acks', () => {
  const errors: unknown[] = [];
  const committed: string[] = [];
  const deferred = new DeferredWrites({ busy: () => true, maxDelayMs: 60_000, onError: (error) => errors.push(error) });
  const t = token(committed, 't');
  const written: number[] = [];
  deferred.defer(() => {
    throw new RangeError('sink refused');
  }, [t]);
  deferred.defer(() => written.push(2), [t]);
  t.release();
  deferred.runAll();
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, 'sink refused');
  assert.deepEqual(written, [2]);
  assert.deepEqual(committed, ['t']);
  assert.equal(deferred.size, 0);
});

test('while busy, only the writes past maxDelayMs go; the ones queued after them keep waiting', async () => {
  const written: string[] = [];
  let busy = true;
  const deferred = new DeferredWrites({ busy: () => busy, maxDelayMs: 300, onError: (error) => assert.fail(String(error)) });
  // The second write is queued when the first runs, so it has its own 300 ms still to wait.
  deferred.defer(() => {
    written.push('old');
    deferred.defer(() => written.push('burst'), []);
  }, []);
  await until(() => written.length === 1);
  assert.deepEqual(written, ['old']);
  assert.equal(deferred.size, 1, 'the later write is still held');
  busy = false;
  await until(() => written.length === 2);
  assert.deepEqual(written, ['old', 'burst']);
});
