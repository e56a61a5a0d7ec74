import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/errors.ts';
import { DEFAULT_LIMITS, loadSqlEndpointConfig } from '../../../src/analytics/sql-config.ts';
import { answerDeadlineMs, executionSeconds, parseFormat, readOnlySettings } from '../../../src/analytics/read-only-query.ts';

test('defaults, and values from the environment', () => {
  assert.deepEqual(loadSqlEndpointConfig({}), { token: undefined, limits: DEFAULT_LIMITS, maxConcurrent: 4 });
  assert.deepEqual(loadSqlEndpointConfig({ TRIBUTARY_SQL_TOKEN: 'x'.repeat(16), TRIBUTARY_SQL_MAX_ROWS: '10', TRIBUTARY_SQL_TIMEOUT_MS: '2500', TRIBUTARY_SQL_MAX_CONCURRENT: '2' }), {
    token: 'x'.repeat(16),
    limits: { ...DEFAULT_LIMITS, maxRows: 10, timeoutMs: 2500 },
    maxConcurrent: 2,
  });
});

test('bad values name the variable and the fix', () => {
  assert.throws(() => loadSqlEndpointConfig({ TRIBUTARY_SQL_TOKEN: 'short' }), (e: unknown) => e instanceof ConfigError && e.field === 'TRIBUTARY_SQL_TOKEN' && /openssl rand/.test(e.message));
  assert.throws(() => loadSqlEndpointConfig({ TRIBUTARY_SQL_TOKEN: 'has a space in it, long enough' }), /not one word/);
  assert.throws(() => loadSqlEndpointConfig({ TRIBUTARY_SQL_MAX_ROWS: '0' }), (e: unknown) => e instanceof ConfigError && e.field === 'TRIBUTARY_SQL_MAX_ROWS');
  assert.throws(() => loadSqlEndpointConfig({ TRIBUTARY_SQL_TIMEOUT_MS: '1.5' }), (e: unknown) => e instanceof ConfigError && e.field === 'TRIBUTARY_SQL_TIMEOUT_MS');
});

test('limits become ClickHouse settings, readonly last; time in whole seconds', () => {
  const limits = { maxRows: 10, maxResultBytes: 1024, timeoutMs: 1500 };
  assert.deepEqual(Object.entries(readOnlySettings(limits)), [
    ['max_result_rows', '10'],
    ['max_result_bytes', '1024'],
    ['result_overflow_mode', 'throw'],
    ['max_execution_time', 2],
    ['timeout_overflow_mode', 'throw'],
    ['readonly', '1'],
  ]);
  assert.equal(executionSeconds({ ...limits, timeoutMs: 1 }), 1);
  assert.equal(answerDeadlineMs(limits), 3000);
  assert.equal(parseFormat(undefined), 'JSON');
  assert.equal(parseFormat('csvwithnames'), 'CSVWithNames');
  assert.throws(() => parseFormat('XML'), /unknown format "XML"/);
});
