import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatestByKey, type LogEntry, ReplayBuffer } from '../../../src/push/channel-log.ts';

const entry = (seq: number, bytes = 10, key?: string): LogEntry => ({ seq, key, frame: `f${seq}`, bytes });

test('the replay buffer keeps the last items within its count and byte bounds, in order', () => {
  const buffer = new ReplayBuffer(3, 1000);
  assert.equal(buffer.oldestSeq(), undefined);
  assert.deepEqual(buffer.after(0), []);
  for (let seq = 1; seq <= 5; seq++) buffer.push(entry(seq));
  assert.deepEqual([buffer.size, buffer.bytes, buffer.oldestSeq()], [3, 30, 3]);
  assert.deepEqual(buffer.after(0).map((e) => e.seq), [3, 4, 5]);
  assert.deepEqual(buffer.after(3).map((e) => e.seq), [4, 5]);
  assert.deepEqual(buffer.after(5), []);

  const small = new ReplayBuffer(10, 25);
  for (let seq = 1; seq <= 4; seq++) small.push(entry(seq));
  assert.deepEqual([small.size, small.bytes, small.oldestSeq()], [2, 20, 3]);
  small.push(entry(5, 100)); // larger than the bound: kept alone
  assert.deepEqual([small.size, small.bytes, small.oldestSeq()], [1, 100, 5]);
});

test('latest-by-key keeps one entry per key, least recently updated evicted first', () => {
  const latest = new LatestByKey(2, 1000);
  latest.set('a', entry(1));
  latest.set('b', entry(2));
  latest.set('a', entry(3, 20));
  assert.deepEqual([...latest.values()].map((e) => e.seq), [2, 3]);
  assert.equal(latest.bytes, 30);
  latest.set('c', entry(4));
  assert.deepEqual([...latest.values()].map((e) => e.seq), [3, 4]);
  assert.deepEqual([latest.size, latest.bytes], [2, 30]);

  const bytes = new LatestByKey(100, 25);
  for (let seq = 1; seq <= 4; seq++) bytes.set(`k${seq}`, entry(seq));
  assert.deepEqual([...bytes.values()].map((e) => e.seq), [3, 4]);
});
