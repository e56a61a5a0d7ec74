import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/topology/config.ts';
import { ConfigError } from '../../../src/core/errors.ts';

// KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*, REDIS_USERNAME/PASSWORD/TLS_*,
// CLICKHOUSE_USER/PASSWORD/CA/CERT/KEY through loadConfig: what they resolve to, and which
// variable each mistake names. Certificates are made here with the openssl command.

let dir: string;
const file = (name: string, text: string) => {
  const target = path.join(dir, name);
  writeFileSync(target, text, { mode: 0o600 });
  return target;
};
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'tributary-connection-config-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test CA', '-days', '2');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=client');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2');
  openssl('pkey', '-in', 'client.key', '-aes256', '-passout', 'pass:the-key-passphrase', '-out', 'client-encrypted.key');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-subj', '/CN=other', '-days', '2');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The ConfigError loadConfig throws for `env`; asserts its field and that no secret is in its message. */
function refused(env: Record<string, string>, field: string, ...secrets: string[]): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError for ${field}, got ${String(caught)}`);
  assert.equal(caught.field, field, caught.message);
  assert.match(caught.message, /Fix: ./);
  for (const secret of secrets) assert.ok(!caught.message.includes(secret), `the message shows a secret: ${caught.message}`);
  return caught;
}

describe('secrets: VAR or VAR_FILE', () => {
  test('a file is read and its trailing newline dropped; an inline value is taken as it is', () => {
    const secure = { KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_USERNAME: 'app' };
    assert.equal(loadConfig({ ...secure, KAFKA_SASL_PASSWORD_FILE: file('kafka.password', 'p4ss word\r\n') }).kafkaSecurity?.sasl?.password, 'p4ss word');
    assert.equal(loadConfig({ ...secure, KAFKA_SASL_PASSWORD: 'inline secret ' }).kafkaSecurity?.sasl?.password, 'inline secret ');
  });

  test('both set, a missing file, an empty file, a directory: the variable named, the secret never shown', () => {
    const base = { CLICKHOUSE_URL: 'http://127.0.0.1:8123', CLICKHOUSE_USER: 'app' };
    refused({ ...base, CLICKHOUSE_PASSWORD: 'hunter2-inline', CLICKHOUSE_PASSWORD_FILE: file('ch.password', 'hunter2-file') }, 'CLICKHOUSE_PASSWORD', 'hunter2-inline', 'hunter2-file');
    const missing = refused({ ...base, CLICKHOUSE_PASSWORD_FILE: path.join(dir, 'absent') }, 'CLICKHOUSE_PASSWORD_FILE');
    assert.match(missing.message, /absent does not exist/);
    refused({ ...base, CLICKHOUSE_PASSWORD_FILE: file('empty.password', '\n') }, 'CLICKHOUSE_PASSWORD_FILE');
    assert.match(refused({ ...base, CLICKHOUSE_PASSWORD_FILE: dir }, 'CLICKHOUSE_PASSWORD_FILE').message, /is a directory/);
  });
});

describe('Kafka', () => {
  test('nothing set: PLAINTEXT (no kafkaSecurity); SASL_SSL with SCRAM and a CA; SSL with a client certificate and an encrypted key', () => {
    assert.equal(loadConfig({ KAFKA_BROKERS: 'b:9092' }).kafkaSecurity, undefined);
    const ca = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
    assert.deepEqual(loadConfig({ KAFKA_BROKERS: 'b:9093', KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'app', KAFKA_SASL_PASSWORD: 'pw', KAFKA_SSL_CA_FILE: path.join(dir, 'ca.crt') }).kafkaSecurity, {
      protocol: 'SASL_SSL',
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'app', password: 'pw' },
      tls: { ca },
    });
    const mutual = loadConfig({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: path.join(dir, 'ca.crt'), KAFKA_SSL_CERT_FILE: path.join(dir, 'client.crt'), KAFKA_SSL_KEY_FILE: path.join(dir, 'client-encrypted.key'), KAFKA_SSL_KEY_PASSWORD_FILE: file('key.password', 'the-key-passphrase\n') }).kafkaSecurity;
    assert.deepEqual(mutual, { protocol: 'SSL', tls: { ca, cert: readFileSync(path.join(dir, 'client.crt'), 'utf8'), key: readFileSync(path.join(dir, 'client-encrypted.key'), 'utf8'), passphrase: 'the-key-passphrase' } });
  });

  test('settings that would be ignored or are missing name the variable', () => {
    refused({ KAFKA_SASL_USERNAME: 'app', KAFKA_SASL_PASSWORD: 'pw' }, 'KAFKA_SECURITY_PROTOCOL', 'pw');
    refused({ KAFKA_SSL_CA_FILE: path.join(dir, 'ca.crt') }, 'KAFKA_SECURITY_PROTOCOL');
    refused({ KAFKA_SECURITY_PROTOCOL: 'TLS' }, 'KAFKA_SECURITY_PROTOCOL');
    refused({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SASL_USERNAME: 'app' }, 'KAFKA_SASL_USERNAME');
    refused({ KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'app', KAFKA_SASL_PASSWORD: 'pw', KAFKA_SSL_CA_FILE: path.join(dir, 'ca.crt') }, 'KAFKA_SECURITY_PROTOCOL', 'pw');
    refused({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'app', KAFKA_SASL_PASSWORD: 'pw' }, 'KAFKA_SASL_MECHANISM', 'pw');
    refused({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'OAUTHBEARER', KAFKA_SASL_USERNAME: 'app', KAFKA_SASL_PASSWORD: 'pw' }, 'KAFKA_SASL_MECHANISM', 'pw');
    refused({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_PASSWORD: 'pw' }, 'KAFKA_SASL_USERNAME', 'pw');
    refused({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'app' }, 'KAFKA_SASL_PASSWORD');
  });

  test('TLS files: unreadable, not PEM, a key without its certificate, a key of another certificate, a wrong or missing passphrase', () => {
    const ssl = { KAFKA_SECURITY_PROTOCOL: 'SSL' };
    refused({ ...ssl, KAFKA_SSL_CA_FILE: path.join(dir, 'no-ca.crt') }, 'KAFKA_SSL_CA_FILE');
    refused({ ...ssl, KAFKA_SSL_CA_FILE: file('not-a-cert.pem', 'hello') }, 'KAFKA_SSL_CA_FILE');
    refused({ ...ssl, KAFKA_SSL_KEY_FILE: path.join(dir, 'client.key') }, 'KAFKA_SSL_CERT_FILE');
    refused({ ...ssl, KAFKA_SSL_CERT_FILE: path.join(dir, 'client.crt'), KAFKA_SSL_KEY_FILE: path.join(dir, 'other.key') }, 'KAFKA_SSL_KEY_FILE');
    const withEncryptedKey = { ...ssl, KAFKA_SSL_CERT_FILE: path.join(dir, 'client.crt'), KAFKA_SSL_KEY_FILE: path.join(dir, 'client-encrypted.key') };
    refused(withEncryptedKey, 'KAFKA_SSL_KEY_PASSWORD');
    refused({ ...withEncryptedKey, KAFKA_SSL_KEY_PASSWORD: 'not-the-passphrase' }, 'KAFKA_SSL_KEY_PASSWORD', 'not-the-passphrase');
    refused({ ...ssl, KAFKA_SSL_KEY_PASSWORD: 'orphan' }, 'KAFKA_SSL_KEY_PASSWORD', 'orphan');
  });
});

describe('Redis and ClickHouse', () => {
  test('credentials and TLS files resolve; unset means no security object', () => {
    assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', CLICKHOUSE_URL: 'http://127.0.0.1:8123' }).redisSecurity, undefined);
    const config = loadConfig({
      REDIS_URL: 'rediss://cache:6380',
      REDIS_USERNAME: 'app',
      REDIS_PASSWORD_FILE: file('redis.password', 'redis-pw\n'),
      REDIS_TLS_CA_FILE: path.join(dir, 'ca.crt'),
      CLICKHOUSE_URL: 'https://ch:8443/analytics',
      CLICKHOUSE_USER: 'writer',
      CLICKHOUSE_PASSWORD_FILE: file('ch-pw', 'ch-pw'),
      CLICKHOUSE_CA_FILE: path.join(dir, 'ca.crt'),
      CLICKHOUSE_CERT_FILE: path.join(dir, 'client.crt'),
      CLICKHOUSE_KEY_FILE: path.join(dir, 'client.key'),
    });
    const ca = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
    assert.deepEqual(config.redisSecurity, { username: 'app', password: 'redis-pw', tls: { ca } });
    assert.deepEqual(config.clickhouseSecurity, { username: 'writer', password: 'ch-pw', tls: { ca, cert: readFileSync(path.join(dir, 'client.crt'), 'utf8'), key: readFileSync(path.join(dir, 'client.key'), 'utf8') } });
    // A password alone is the default user's (requirepass; ClickHouse's "default").
    assert.deepEqual(loadConfig({ REDIS_URL: 'redis://cache:6379', REDIS_PASSWORD: 'only' }).redisSecurity, { password: 'only' });
  });

  test('credentials twice, a user without a password, TLS files for a plain URL: the variable named', () => {
    refused({ REDIS_URL: 'redis://app:url-pw@cache:6379', REDIS_PASSWORD: 'pw' }, 'REDIS_URL', 'url-pw', 'pw');
    refused({ REDIS_URL: 'redis://cache:6379', REDIS_USERNAME: 'app' }, 'REDIS_PASSWORD');
    refused({ REDIS_URL: 'redis://cache:6379', REDIS_TLS_CA_FILE: path.join(dir, 'ca.crt') }, 'REDIS_URL');
    refused({ CLICKHOUSE_URL: 'http://writer:url-pw@ch:8123', CLICKHOUSE_USER: 'writer' }, 'CLICKHOUSE_URL', 'url-pw');
    refused({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_CA_FILE: path.join(dir, 'ca.crt') }, 'CLICKHOUSE_URL');
  });

  test('an invalid URL is shown without its password', () => {
    const error = refused({ REDIS_URL: 'http://app:s3cret-in-url@cache:6379' }, 'REDIS_URL', 's3cret-in-url');
    assert.match(error.message, /"http:\/\/app:\*\*\*@cache:6379" is invalid/);
  });
});
