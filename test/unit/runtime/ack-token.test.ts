import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckToken, releaseAll, retainAll, untrackedToken } from '../../../src/core/ack.ts';

function counted(partitionKey = 'payments:0', lastOffset = 41n, recordCount = 10) {
  const done: AckToken[] = [];
  const token = new AckToken(partitionKey, lastOffset, recordCount, (t) => done.push(t));
  return { token, done };
}

test('a new token holds one reference for its source and completes on the first release', () => {
  const { token, done } = counted();
  assert.equal(token.done, false);
  assert.equal(token.partitionKey, 'payments:0');
  assert.equal(token.lastOffset, 41n);
  assert.equal(token.recordCount, 10);
  token.release();
  assert.equal(token.done, true);
  assert.equal(done.length, 1);
  assert.equal(done[0], token, 'onDone receives the token itself');
});

test('every retain needs a matching release before the token completes', () => {
  const { token, done } = counted();
  token.retain(); // a window keeps a record
  token.retain(); // a sink buffers a row
  token.release(); // the source is through with the batch
  assert.equal(token.done, false);
  token.release(); // the window emitted
  assert.equal(token.done, false);
  assert.equal(done.length, 0);
  token.release(); // the sink acknowledged
  assert.equal(token.done, true);
  assert.equal(done.length, 1);
});

test('onDone fires exactly once', () => {
  const { token, done } = counted();
  token.retain();
  token.release();
  token.release();
  assert.equal(done.length, 1);
  assert.throws(() => token.release(), { message: 'ack token payments:0@41 released too often' });
  assert.equal(done.length, 1);
});

test('retaining a completed token is an error naming the token', () => {
  const { token } = counted('clicks:3', 7n, 1);
  token.release();
  assert.throws(() => token.retain(), { message: 'ack token clicks:3@7 retained after completion' });
});

test('retainAll and releaseAll apply to every token of a list', () => {
  const a = counted('t:0', 1n, 2);
  const b = counted('t:1', 5n, 3);
  const tokens = [a.token, b.token];
  retainAll(tokens);
  releaseAll(tokens);
  assert.equal(a.token.done, false);
  assert.equal(b.token.done, false);
  releaseAll(tokens);
  assert.equal(a.done.length, 1);
  assert.equal(b.done.length, 1);
  retainAll([]);
  releaseAll([]);
});

test('an untracked token behaves like any other but reports to nobody', () => {
  const token = untrackedToken(25);
  assert.equal(token.partitionKey, 'untracked');
  assert.equal(token.lastOffset, -1n);
  assert.equal(token.recordCount, 25);
  token.retain();
  token.release();
  assert.equal(token.done, false);
  token.release();
  assert.equal(token.done, true);
  assert.equal(untrackedToken().recordCount, 0);
});
