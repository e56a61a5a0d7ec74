import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/errors.ts';
import { checkPlaceholders, expandPlaceholders } from '../../../src/jobs/placeholders.ts';

const NOW = Date.UTC(2026, 0, 31, 10, 17, 42, 123);
const HOUR = 3_600_000;

test('{now} and offsets expand to epoch milliseconds at the run time', () => {
  assert.deepEqual(expandPlaceholders(['backfill', 't.ts', '--from', '{now-1h}', '--to', '{now}'], NOW), ['backfill', 't.ts', '--from', String(NOW - HOUR), '--to', String(NOW)]);
  assert.deepEqual(expandPlaceholders(['{now+30m}', '{now-1d+2h}', '{now-1500ms}', '{now-1.5s}'], NOW), [String(NOW + 30 * 60_000), String(NOW - 22 * HOUR), String(NOW - 1_500), String(NOW - 1_500)]);
});

test('/unit rounds down after the offsets, so hourly runs cover whole hours', () => {
  const [from, to] = expandPlaceholders(['{now-1h/h}', '{now/h}'], NOW).map(Number);
  assert.equal(from, Date.UTC(2026, 0, 31, 9));
  assert.equal(to, Date.UTC(2026, 0, 31, 10));
  assert.deepEqual(expandPlaceholders(['{now/d}', '{now/m}', '{now/s}'], NOW), [String(Date.UTC(2026, 0, 31)), String(Date.UTC(2026, 0, 31, 10, 17)), String(Date.UTC(2026, 0, 31, 10, 17, 42))]);
});

test('placeholders inside an argument expand in place; other braces stay as written', () => {
  assert.deepEqual(expandPlaceholders(['--range={now-1m}..{now}', '{"a":1}', '{nowhere', '{later}'], NOW), [`--range=${NOW - 60_000}..${NOW}`, '{"a":1}', '{nowhere', '{later}']);
});

test('a malformed {now...} is a configuration error naming the field', () => {
  for (const bad of ['{now-1x}', '{now - 1h}', '{now-1h/w}', '{now/h-1h}', '{now1h}']) {
    assert.throws(() => checkPlaceholders(['--from', bad], 'jobs[0].command'), (error: unknown) => error instanceof ConfigError && error.field === 'jobs[0].command' && error.message.includes(bad), bad);
  }
  checkPlaceholders(['{now}', '{now-1h/h}', '{"json":true}', 'plain'], 'jobs[0].command');
});
