import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FRAUD_FEATURE_NAMES, fraudFeatureVector, type CardFeatures } from '../../../topologies/card-fraud-features.ts';
import { canaryBucket, inCanary } from '../../../src/scoring/model-serving.ts';

test('the fraud feature vector of a known row, against values worked out outside this code (Python math.log1p)', () => {
  const row = { cardId: 'card-1', windowEnd: 60_000, count1m: 3, sum1m: 120.5, max1m: 80.25, count5m: 7, sum5m: 400, max5m: 150 } as CardFeatures;
  const expected = [3, 4.799914262780603, 4.3975308212098465, 7, 5.993961427306569, 5.017279836814924];
  assert.deepEqual([...FRAUD_FEATURE_NAMES], ['count1m', 'log_sum1m', 'log_max1m', 'count5m', 'log_sum5m', 'log_max5m']);
  const vector = fraudFeatureVector(row);
  assert.equal(vector.length, expected.length);
  vector.forEach((value, i) => assert.ok(Math.abs(value - expected[i]!) < 1e-12, `${FRAUD_FEATURE_NAMES[i]}: ${value} vs ${expected[i]}`));
});

test('canary buckets are 32-bit FNV-1a of the UTF-16 code units modulo 10,000: published test vectors and card ids', () => {
  // FNV-1a 32: "" -> 0x811c9dc5, "a" -> 0xe40c292c, "foobar" -> 0xbf9cf968 (the FNV reference vectors);
  // the others computed in Python over ord() of each character.
  const expected: Record<string, number> = { '': 6261, a: 2220, foobar: 5720, 'card-00001': 3461, 'card-42': 4668, Zürich: 7101, '€uro': 277 };
  for (const [key, bucket] of Object.entries(expected)) assert.equal(canaryBucket(key), bucket, JSON.stringify(key));
  assert.equal(inCanary('card-00001', 34.62), true, 'bucket 3461 is inside 34.62%');
  assert.equal(inCanary('card-00001', 34.61), false, 'and outside 34.61%');
});
