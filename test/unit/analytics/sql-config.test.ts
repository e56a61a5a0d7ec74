import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/core/errors.ts';
import { DEFAULT_LIMITS, loadSqlEndpointConfig } from '../../../src/analytics/sql-config.ts';
import { answerDeadlineMs, executionSeconds, parseFormat, resultRows } from '../../../src/analytics/result-format.ts';
import { analystSettings } from '../../../src/analytics/chdb-backend.ts';
import { checkSqlExposure } from '../../../src/analytics/sql-exposure.ts';

const TOKEN = 'x'.repeat(16);

test('defaults, and values from the environment', () => {
  assert.deepEqual(loadSqlEndpointConfig({}), { enabled: true, token: undefined, credentials: {}, limits: DEFAULT_LIMITS, maxConcurrent: undefined, analystUser: undefined });
  assert.deepEqual(DEFAULT_LIMITS, { maxRows: 100_000, maxResultBytes: 67_108_864, timeoutMs: 30_000, maxMemoryBytes: 134_217_728, maxThreads: 2 });
  const loaded = loadSqlEndpointConfig({
    TRIBUTARY_SQL: 'off',
    TRIBUTARY_SQL_TOKEN: TOKEN,
    TRIBUTARY_SQL_ADMIN_TOKEN: 'y'.repeat(20),
    TRIBUTARY_SQL_JWT_SECRET: 's'.repeat(32),
    TRIBUTARY_SQL_JWT_AUDIENCE: 'tributary-sql',
    TRIBUTARY_SQL_MAX_ROWS: '10',
    TRIBUTARY_SQL_TIMEOUT_MS: '2500',
    TRIBUTARY_SQL_MAX_MEMORY_MB: '64',
    TRIBUTARY_SQL_MAX_THREADS: '1',
    TRIBUTARY_SQL_MAX_CONCURRENT: '2',
    CLICKHOUSE_ANALYST_USER: 'analyst',
    CLICKHOUSE_ANALYST_PASSWORD: 'pw',
  });
  assert.deepEqual(loaded, {
    enabled: false,
    token: TOKEN,
    credentials: { analystToken: TOKEN, adminToken: 'y'.repeat(20), jwt: { secret: 's'.repeat(32), audience: 'tributary-sql' } },
    limits: { maxRows: 10, maxResultBytes: DEFAULT_LIMITS.maxResultBytes, timeoutMs: 2500, maxMemoryBytes: 64 * 1024 * 1024, maxThreads: 1 },
    maxConcurrent: 2,
    analystUser: { user: 'analyst', password: 'pw' },
  });
});

test('the analyst password from a file (its trailing newline dropped)', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tributary-pw-')), 'analyst');
  writeFileSync(file, 'from-a-file\n');
  assert.deepEqual(loadSqlEndpointConfig({ CLICKHOUSE_ANALYST_USER: 'analyst', CLICKHOUSE_ANALYST_PASSWORD_FILE: file }).analystUser, { user: 'analyst', password: 'from-a-file' });
});

test('bad values name the variable and the fix, never the secret', () => {
  const field = (env: NodeJS.ProcessEnv) => {
    try {
      loadSqlEndpointConfig(env);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.field;
    }
    return 'accepted';
  };
  assert.throws(() => loadSqlEndpointConfig({ TRIBUTARY_SQL_TOKEN: 'short' }), (e: unknown) => e instanceof ConfigError && e.field === 'TRIBUTARY_SQL_TOKEN' && /openssl rand/.test(e.message));
  assert.throws(() => loadSqlEndpointConfig({ TRIBUTARY_SQL_TOKEN: 'has a space in it, long enough' }), /not one word/);
  assert.equal(field({ TRIBUTARY_SQL_MAX_ROWS: '0' }), 'TRIBUTARY_SQL_MAX_ROWS');
  assert.equal(field({ TRIBUTARY_SQL_TIMEOUT_MS: '1.5' }), 'TRIBUTARY_SQL_TIMEOUT_MS');
  assert.equal(field({ TRIBUTARY_SQL_MAX_MEMORY_MB: 'lots' }), 'TRIBUTARY_SQL_MAX_MEMORY_MB');
  assert.equal(field({ TRIBUTARY_SQL: 'maybe' }), 'TRIBUTARY_SQL');
  assert.equal(field({ TRIBUTARY_SQL_TOKEN: TOKEN, TRIBUTARY_SQL_ADMIN_TOKEN: TOKEN }), 'TRIBUTARY_SQL_ADMIN_TOKEN');
  assert.equal(field({ TRIBUTARY_SQL_JWT_AUDIENCE: 'a' }), 'TRIBUTARY_SQL_JWT_AUDIENCE');
  assert.equal(field({ CLICKHOUSE_ANALYST_PASSWORD: 'pw' }), 'CLICKHOUSE_ANALYST_USER');
  assert.equal(field({ CLICKHOUSE_ANALYST_USER: 'default', CLICKHOUSE_ANALYST_PASSWORD: 'pw' }), 'CLICKHOUSE_ANALYST_USER');
  assert.equal(field({ CLICKHOUSE_ANALYST_USER: 'a', CLICKHOUSE_ANALYST_PASSWORD: 'pw', CLICKHOUSE_ANALYST_PASSWORD_FILE: '/x' }), 'CLICKHOUSE_ANALYST_PASSWORD_FILE');
  assert.equal(field({ CLICKHOUSE_ANALYST_USER: 'a', CLICKHOUSE_ANALYST_PASSWORD_FILE: '/nonexistent/tributary/pw' }), 'CLICKHOUSE_ANALYST_PASSWORD_FILE');
  const secret = 'a-secret-that-is-too-short';
  assert.throws(() => loadSqlEndpointConfig({ TRIBUTARY_SQL_JWT_SECRET: secret }), (e: unknown) => e instanceof ConfigError && e.field === 'TRIBUTARY_SQL_JWT_SECRET' && !e.message.includes(secret));
});

test('a non-loopback bind needs a credential unless the endpoint is off', () => {
  const none = { enabled: true, credentials: {} };
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.doesNotThrow(() => checkSqlExposure(host, none), host);
  for (const host of ['0.0.0.0', '::', '', '192.0.2.7', 'engine.example']) {
    assert.throws(() => checkSqlExposure(host, none), (e: unknown) => e instanceof ConfigError && e.field === 'TRIBUTARY_SQL_TOKEN' && /TRIBUTARY_SQL=off/.test(e.message), host);
  }
  assert.doesNotThrow(() => checkSqlExposure('0.0.0.0', { enabled: false, credentials: {} }));
  assert.doesNotThrow(() => checkSqlExposure('0.0.0.0', { enabled: true, credentials: { adminToken: TOKEN } }));
  assert.doesNotThrow(() => checkSqlExposure('0.0.0.0', { enabled: true, credentials: { jwt: { secret: 's'.repeat(32) } } }));
});

test('limits become session settings, readonly last; time in whole seconds', () => {
  const limits = { maxRows: 10, maxResultBytes: 1024, timeoutMs: 1500, maxMemoryBytes: 1 << 20, maxThreads: 1 };
  const settings = analystSettings(limits);
  assert.deepEqual(settings.at(-1), ['readonly', 1]);
  assert.deepEqual(
    Object.fromEntries(settings.filter(([name]) => ['max_result_rows', 'max_result_bytes', 'result_overflow_mode', 'max_execution_time', 'timeout_overflow_mode', 'max_memory_usage', 'max_threads'].includes(name))),
    { max_result_rows: 10, max_result_bytes: 1024, result_overflow_mode: 'throw', max_execution_time: 2, timeout_overflow_mode: 'throw', max_memory_usage: 1048576, max_threads: 1 },
  );
  assert.equal(executionSeconds({ timeoutMs: 1 }), 1);
  assert.equal(answerDeadlineMs(limits), 3000);
  assert.equal(parseFormat(undefined), 'JSON');
  assert.equal(parseFormat('csvwithnames'), 'CSVWithNames');
  assert.throws(() => parseFormat('XML'), /unknown format "XML"/);
});

test('rows of an answer, per format, for the audit trail', () => {
  assert.equal(resultRows('{"meta":[],"data":[{},{}],"rows": 2,"statistics":{}}', 'JSON'), 2);
  assert.equal(resultRows('{"a":1}\n{"a":2}\n{"a":3}\n', 'JSONEachRow'), 3);
  assert.equal(resultRows('"a"\n"x\ny",1\n"z",2\n', 'CSVWithNames'), 2);
  assert.equal(resultRows('1\n2\n', 'CSV'), 2);
  assert.equal(resultRows('a\tb\n1\t2\n', 'TabSeparatedWithNames'), 1);
  assert.equal(resultRows('', 'TabSeparated'), 0);
});
