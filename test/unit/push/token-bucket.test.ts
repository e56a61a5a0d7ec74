import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../../src/push/token-bucket.ts';

test('a burst, then the sustained rate; refused counts until the bucket is full again', () => {
  const bucket = new TokenBucket(10, 3, 0);
  assert.deepEqual([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)], [true, true, true, false, false]);
  assert.equal(bucket.refused, 2);
  assert.equal(bucket.take(100), true); // one token back after 100 ms at 10/s
  assert.equal(bucket.take(100), false);
  assert.equal(bucket.refused, 3); // not full in between: the episode goes on
  assert.equal(bucket.take(1000), true); // full again: the episode ended
  assert.equal(bucket.refused, 0);
});
