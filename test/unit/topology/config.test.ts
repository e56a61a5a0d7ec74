import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadConfig } from '../../../src/topology/config.ts';
import { ConfigError } from '../../../src/core/errors.ts';

/** Asserts that `env` is rejected with a ConfigError naming `field` and containing `fix`. */
function assertRejected(env: Record<string, string>, field: string, fix: string): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError for ${JSON.stringify(env)}, got ${String(caught)}`);
  assert.equal(caught.field, field);
  assert.equal(caught.retriable, false);
  assert.equal(caught.code, 'CONFIG');
  assert.equal(caught.name, 'ConfigError');
  assert.ok(caught.message.startsWith(`Invalid configuration "${field}": ${JSON.stringify(env[field])} is invalid`), caught.message);
  assert.ok(caught.message.includes(`Fix: ${fix}`), caught.message);
  return caught;
}

test('an empty environment gives the embedded defaults', () => {
  assert.deepEqual(loadConfig({}), {
    kafkaBrokers: undefined,
    clickhouseUrl: undefined,
    clickhouseDataDir: path.resolve('data/chdb'),
    redisUrl: undefined,
    port: 8080,
    host: '127.0.0.1',
    groupId: undefined,
    maxInFlightRecords: 50_000,
    memory: { memoryMb: 512, maxInFlightBytes: 32 * 1024 * 1024, fetchMaxBytes: 2 * 1024 * 1024, fetchMaxBytesPerPartition: 512 * 1024 },
    commitIntervalMs: 1_000,
    schemasDir: path.resolve('schemas'),
    windowState: 'memory',
    checkpointIntervalMs: 5_000,
    maxOpenWindows: 5_000_000,
    shutdownTimeoutMs: 30_000,
    audit: { file: path.resolve('data/audit/audit.jsonl'), table: 'audit_log' },
    governance: { keyStore: { kind: 'file', directory: path.resolve('data/keys') } },
  });
});

test('empty strings count as unset', () => {
  const config = loadConfig({ KAFKA_BROKERS: '', CLICKHOUSE_URL: '', REDIS_URL: '', PORT: '', TRIBUTARY_GROUP_ID: '', TRIBUTARY_MAX_IN_FLIGHT: '' });
  assert.equal(config.kafkaBrokers, undefined);
  assert.equal(config.clickhouseUrl, undefined);
  assert.equal(config.redisUrl, undefined);
  assert.equal(config.port, 8080);
  assert.equal(config.groupId, undefined);
  assert.equal(config.maxInFlightRecords, 50_000);
});

test('the in-flight record bound defaults to 50,000, to 5,000 under a memory budget that was set, and an explicit one wins', () => {
  assert.equal(loadConfig({}).maxInFlightRecords, 50_000);
  assert.equal(loadConfig({ TRIBUTARY_MEMORY_MB: '512' }).maxInFlightRecords, 5_000);
  assert.equal(loadConfig({ TRIBUTARY_MEMORY_MB: '2048' }).maxInFlightRecords, 5_000);
  assert.equal(loadConfig({ TRIBUTARY_MEMORY_MB: '', TRIBUTARY_MAX_IN_FLIGHT: '' }).maxInFlightRecords, 50_000);
  assert.equal(loadConfig({ TRIBUTARY_MEMORY_MB: '512', TRIBUTARY_MAX_IN_FLIGHT: '20000' }).maxInFlightRecords, 20_000);
});

test('unrelated variables are ignored', () => {
  assert.deepEqual(loadConfig({ PATH: '/usr/bin', HOME: '/root', PORT: '9000' }), loadConfig({ PORT: '9000' }));
});

test('every setting is read from its variable', () => {
  const config = loadConfig({
    KAFKA_BROKERS: ' broker-1:9092 , 10.0.0.2:19092,, ',
    CLICKHOUSE_URL: 'https://ch.example.com:8443',
    CLICKHOUSE_DATA_DIR: '/var/lib/tributary/chdb',
    REDIS_URL: 'rediss://cache:6380/2',
    PORT: '0',
    HOST: '0.0.0.0',
    TRIBUTARY_GROUP_ID: 'fraud-v2',
    TRIBUTARY_MAX_IN_FLIGHT: '1000',
    TRIBUTARY_MEMORY_MB: '256',
    TRIBUTARY_MAX_IN_FLIGHT_BYTES: '1048576',
    TRIBUTARY_COMMIT_INTERVAL_MS: '250',
    TRIBUTARY_SCHEMAS_DIR: 'custom/schemas',
    TRIBUTARY_WINDOW_STATE: 'redis',
    TRIBUTARY_CHECKPOINT_INTERVAL_MS: '2000',
    TRIBUTARY_MAX_OPEN_WINDOWS: '1000000',
    TRIBUTARY_SHUTDOWN_TIMEOUT_MS: '5000',
    TRIBUTARY_AUDIT_LOG: '/var/log/tributary/audit.jsonl',
    TRIBUTARY_AUDIT_TABLE: 'off',
    TRIBUTARY_KEY_STORE_PREFIX: 'fraud:keys:',
  });
  assert.deepEqual(config, {
    kafkaBrokers: ['broker-1:9092', '10.0.0.2:19092'],
    clickhouseUrl: 'https://ch.example.com:8443',
    clickhouseDataDir: '/var/lib/tributary/chdb',
    redisUrl: 'rediss://cache:6380/2',
    port: 0,
    host: '0.0.0.0',
    groupId: 'fraud-v2',
    maxInFlightRecords: 1000,
    memory: { memoryMb: 256, maxInFlightBytes: 1024 * 1024, fetchMaxBytes: 256 * 1024, fetchMaxBytesPerPartition: 64 * 1024 },
    commitIntervalMs: 250,
    schemasDir: path.resolve('custom/schemas'),
    windowState: 'redis',
    checkpointIntervalMs: 2_000,
    maxOpenWindows: 1_000_000,
    shutdownTimeoutMs: 5_000,
    audit: { file: '/var/log/tributary/audit.jsonl', table: null },
    governance: { keyStore: { kind: 'redis', prefix: 'fraud:keys:' } },
  });
});

test('plain http ClickHouse and redis:// URLs are accepted', () => {
  const config = loadConfig({ CLICKHOUSE_URL: 'http://127.0.0.1:8123', REDIS_URL: 'redis://127.0.0.1:6379' });
  assert.equal(config.clickhouseUrl, 'http://127.0.0.1:8123');
  assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
});

const KAFKA_FIX = 'comma-separated host:port list, e.g. KAFKA_BROKERS=127.0.0.1:9092 (unset it to run the embedded demo)';

test('KAFKA_BROKERS must be host:port entries', () => {
  assertRejected({ KAFKA_BROKERS: 'localhost' }, 'KAFKA_BROKERS', KAFKA_FIX);
  assertRejected({ KAFKA_BROKERS: 'a:9092,b' }, 'KAFKA_BROKERS', KAFKA_FIX);
  assertRejected({ KAFKA_BROKERS: 'kafka://a:9092' }, 'KAFKA_BROKERS', KAFKA_FIX);
  const error = assertRejected({ KAFKA_BROKERS: ' , ' }, 'KAFKA_BROKERS', KAFKA_FIX);
  assert.ok(error.message.includes('expected host:port entries'));
});

test('CLICKHOUSE_URL must be an http(s) URL', () => {
  const fix = 'an http(s) URL such as http://127.0.0.1:8123 (unset it to use embedded chDB)';
  assertRejected({ CLICKHOUSE_URL: 'ftp://ch:21' }, 'CLICKHOUSE_URL', fix);
  assertRejected({ CLICKHOUSE_URL: '127.0.0.1:8123' }, 'CLICKHOUSE_URL', fix);
  assertRejected({ CLICKHOUSE_URL: 'not a url' }, 'CLICKHOUSE_URL', fix);
});

test('REDIS_URL must be a redis:// or rediss:// URL', () => {
  const fix = 'a redis:// URL such as redis://127.0.0.1:6379 (unset it to keep state in memory)';
  assertRejected({ REDIS_URL: 'http://cache:6379' }, 'REDIS_URL', fix);
  assertRejected({ REDIS_URL: 'cache:6379' }, 'REDIS_URL', fix);
});

test('PORT must be an integer from 0 to 65535', () => {
  const fix = 'a port number between 0 and 65535, e.g. PORT=8080';
  assertRejected({ PORT: 'http' }, 'PORT', fix);
  assertRejected({ PORT: '65536' }, 'PORT', fix);
  assertRejected({ PORT: '-1' }, 'PORT', fix);
  assertRejected({ PORT: '80.5' }, 'PORT', fix);
  assert.equal(loadConfig({ PORT: '65535' }).port, 65535);
});

test('TRIBUTARY_MAX_IN_FLIGHT must be a positive integer', () => {
  const fix = 'a positive number of records, e.g. TRIBUTARY_MAX_IN_FLIGHT=50000';
  assertRejected({ TRIBUTARY_MAX_IN_FLIGHT: '0' }, 'TRIBUTARY_MAX_IN_FLIGHT', fix);
  assertRejected({ TRIBUTARY_MAX_IN_FLIGHT: '-10' }, 'TRIBUTARY_MAX_IN_FLIGHT', fix);
  assertRejected({ TRIBUTARY_MAX_IN_FLIGHT: 'lots' }, 'TRIBUTARY_MAX_IN_FLIGHT', fix);
  assertRejected({ TRIBUTARY_MAX_IN_FLIGHT: '2.5' }, 'TRIBUTARY_MAX_IN_FLIGHT', fix);
});

test('TRIBUTARY_COMMIT_INTERVAL_MS must be a positive integer', () => {
  const fix = 'a positive number of milliseconds, e.g. 1000';
  assertRejected({ TRIBUTARY_COMMIT_INTERVAL_MS: '0' }, 'TRIBUTARY_COMMIT_INTERVAL_MS', fix);
  assertRejected({ TRIBUTARY_COMMIT_INTERVAL_MS: '1s' }, 'TRIBUTARY_COMMIT_INTERVAL_MS', fix);
});

test('a valid variable does not hide an invalid one', () => {
  assertRejected({ PORT: '8081', REDIS_URL: 'memory' }, 'REDIS_URL', 'a redis:// URL such as redis://127.0.0.1:6379 (unset it to keep state in memory)');
});

test('ports must be decimal numbers in range, brokers included', () => {
  for (const [variable, value] of [['PORT', ' '], ['PORT', '0x50'], ['PORT', '70000'], ['KAFKA_BROKERS', 'a:99999'], ['KAFKA_BROKERS', 'a:0'], ['TRIBUTARY_MAX_IN_FLIGHT', '1e3']] as const) {
    assert.throws(() => loadConfig({ [variable]: value }), (error: unknown) => error instanceof ConfigError && error.field === variable, `${variable}=${JSON.stringify(value)}`);
  }
  assert.equal(loadConfig({ PORT: ' 8081 ' }).port, 8081);
  assert.deepEqual(loadConfig({ KAFKA_BROKERS: 'a:1,b:65535' }).kafkaBrokers, ['a:1', 'b:65535']);
});

test('durable window state without Redis names the variable and the fix', () => {
  assert.throws(
    () => loadConfig({ TRIBUTARY_WINDOW_STATE: 'redis' }),
    (error: unknown) => error instanceof ConfigError && error.field === 'TRIBUTARY_WINDOW_STATE' && error.message.includes('set REDIS_URL=redis://127.0.0.1:6379'),
  );
  assertRejected({ TRIBUTARY_WINDOW_STATE: 'disk' }, 'TRIBUTARY_WINDOW_STATE', "'memory' (default) or 'redis'");
  assertRejected({ TRIBUTARY_MAX_OPEN_WINDOWS: 'many' }, 'TRIBUTARY_MAX_OPEN_WINDOWS', 'a positive number of windows');
});
