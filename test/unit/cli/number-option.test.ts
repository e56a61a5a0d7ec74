import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationOption, parseWholeOption } from '../../../src/cli/number-option.ts';

const fails = (run: () => unknown, field: string, message: RegExp) =>
  assert.throws(run, (error: Error & { field?: string }) => error.name === 'ConfigError' && error.field === field && message.test(error.message));

test('whole-number options: digits from 1 to the maximum, anything else names the option', () => {
  assert.equal(parseWholeOption(' 4096 ', '--chunk', 'a positive whole number', 'e.g. --chunk 4096'), 4096);
  assert.equal(parseWholeOption('10', '--batch-size', 'rows', 'e.g. 10', 10), 10);
  for (const bad of ['0', '-1', '1.5', '1e4', 'many', '', '11']) fails(() => parseWholeOption(bad, '--chunk', 'a positive whole number', 'e.g. --chunk 4096', 10), '--chunk', /is not a positive whole number/);
});

test('duration options: text with a unit, or milliseconds', () => {
  assert.equal(parseDurationOption('5m', '--warmup'), 300_000);
  assert.equal(parseDurationOption(' 1500 ', '--warmup'), 1_500);
  assert.equal(parseDurationOption('0', '--warmup'), 0);
  fails(() => parseDurationOption('soon', '--warmup'), '--warmup', /is not a duration/);
});
