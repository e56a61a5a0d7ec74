import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { findGaps, offsetGapError } from '../../../src/sources/kafka/offset-gaps.ts';
import { KAFKAJS_OFFSET_RESET_MESSAGE } from '../../../src/sources/kafka/gap-guard.ts';

const bounds = [
  { partition: 0, low: 500n, high: 900n },
  { partition: 1, low: 0n, high: 300n },
  { partition: 2, low: 40n, high: 40n },
];

test('a position below the log start is a gap up to the start; one inside [low, high] is none', () => {
  const gaps = findGaps('t', [
    { partition: 0, offset: 120n, source: 'checkpoint' },
    { partition: 1, offset: 300n, source: 'committed offset' },
    { partition: 2, offset: 40n, source: 'consumer position' },
  ], bounds, 'fail');
  assert.deepEqual(gaps, [{ topic: 't', partition: 0, from: 120n, to: 500n, reason: 'below_log_start', source: 'checkpoint', resumeAt: 500n }]);
});

test('a position past the end of the log is a gap from the end to the position', () => {
  const [gap] = findGaps('t', [{ partition: 1, offset: 450n, source: 'committed offset' }], bounds, 'earliest');
  assert.deepEqual(gap, { topic: 't', partition: 1, from: 300n, to: 450n, reason: 'beyond_log_end', source: 'committed offset', resumeAt: 0n });
});

test("policy 'latest' resumes at the end and also counts the records it skips", () => {
  const gaps = findGaps('t', [{ partition: 0, offset: 100n, source: 'committed offset' }], bounds, 'latest');
  assert.deepEqual(
    gaps.map((g) => [g.reason, g.from, g.to, g.resumeAt]),
    [
      ['below_log_start', 100n, 500n, 900n],
      ['skipped_to_latest', 500n, 900n, 900n],
    ],
  );
});

test('the error of policy fail names every partition, its range, the counts, the total and the command to accept', () => {
  const gaps = findGaps('payments', [
    { partition: 0, offset: 120n, source: 'checkpoint' },
    { partition: 1, offset: 450n, source: 'committed offset' },
  ], bounds, 'fail');
  const error = offsetGapError(gaps, 'TRIBUTARY_ON_OFFSET_GAP');
  assert.equal(error.code, 'OFFSET_GAP');
  assert.equal(error.retriable, false);
  assert.match(error.message, /^530 records were lost/);
  assert.match(error.message, /topic payments partition 0: offsets 120 to 499 \(380 records\)/);
  assert.match(error.message, /topic payments partition 1: offsets 300 to 449 \(150 records\)/);
  assert.match(error.message, /TRIBUTARY_ON_OFFSET_GAP=earliest tributary run/);
});

test('kafkajs still logs the message the gap guard watches for when it resets an out-of-range offset', () => {
  const require = createRequire(import.meta.url);
  const consumerGroup = path.join(path.dirname(require.resolve('kafkajs/package.json')), 'src/consumer/consumerGroup.js');
  const text = readFileSync(consumerGroup, 'utf8');
  assert.ok(text.includes(`this.logger.error('${KAFKAJS_OFFSET_RESET_MESSAGE}'`), 'the reset message changed: update KAFKAJS_OFFSET_RESET_MESSAGE');
});
