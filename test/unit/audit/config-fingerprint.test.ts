import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { configFingerprint } from '../../../src/audit/config-fingerprint.ts';

test('the configuration hash keeps no secret: secret names redacted, URL credentials removed, *_FILE as its path', () => {
  const env = {
    KAFKA_BROKERS: 'b1:9092,b2:9092',
    CLICKHOUSE_URL: 'http://analyst:ch-canary-pw@ch.internal:8123/db?password=qs-canary',
    REDIS_URL: 'redis://:redis-canary@redis:6379',
    TRIBUTARY_WS_SECRET: 'ws-canary-secret-0123456789abcdef0123',
    TRIBUTARY_SQL_TOKEN: 'sql-canary-token',
    TRIBUTARY_KAFKA_SASL_PASSWORD_FILE: '/run/secrets/kafka',
    TRIBUTARY_SIGNING_KEY: 'key-canary',
    PORT: '8080',
    HOME: '/root',
    PATH: '/usr/bin',
    EMPTY_ONE: '',
  };
  const { sha256, settings } = configFingerprint(env);
  assert.deepEqual(settings, ['CLICKHOUSE_URL', 'KAFKA_BROKERS', 'PORT', 'REDIS_URL', 'TRIBUTARY_KAFKA_SASL_PASSWORD_FILE', 'TRIBUTARY_SIGNING_KEY', 'TRIBUTARY_SQL_TOKEN', 'TRIBUTARY_WS_SECRET']);
  // What is hashed, written out by hand: sorted names, secrets replaced, URLs without credentials.
  const expected =
    '{"CLICKHOUSE_URL":"http://ch.internal:8123/db?password=%5Bredacted%5D","KAFKA_BROKERS":"b1:9092,b2:9092","PORT":"8080","REDIS_URL":"redis://redis:6379",' +
    '"TRIBUTARY_KAFKA_SASL_PASSWORD_FILE":"/run/secrets/kafka","TRIBUTARY_SIGNING_KEY":"[redacted]","TRIBUTARY_SQL_TOKEN":"[redacted]","TRIBUTARY_WS_SECRET":"[redacted]"}';
  assert.equal(sha256, createHash('sha256').update(expected).digest('hex'));
  // A secret changes nothing; any other setting changes the hash.
  assert.equal(configFingerprint({ ...env, TRIBUTARY_WS_SECRET: 'another-secret-of-32-characters-long!!' }).sha256, sha256);
  assert.notEqual(configFingerprint({ ...env, PORT: '8081' }).sha256, sha256);
});
