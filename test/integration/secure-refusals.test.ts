import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy.ts';
import { secureServices, type SecureServices } from '../helpers/secure-services.ts';
import { assertNoSecrets, baseEnv, knownSecrets, runCli, secureClickHouse, secureEnv, type CliRun } from '../helpers/secure-env.ts';
import { queryRows, uniqueName } from '../helpers/services.ts';
import { freePort } from '../helpers/free-port.ts';

// Wrong credentials, a wrong mechanism, untrusted certificates and a user without the rights:
// each fails the start of the real CLI with a ConfigError naming the variable to fix, after one
// attempt. A counting TCP proxy in front of the service is the evidence: one connection (or one
// HTTP request) where a retry loop would show several. No secret (the right ones, the wrong one
// tried) appears in the output.

/** What `tributary` printed on stderr for a ConfigError about `field`. */
function assertConfigError(run: CliRun, field: string): void {
  assert.equal(run.code, 1, `exit code; output:\n${run.stdout}${run.stderr}`.slice(0, 4000));
  assert.match(run.stderr, new RegExp(`^tributary: Invalid configuration "${field}": .+ Fix: .+$`, 'm'), run.stderr.slice(-3000));
  assert.doesNotMatch(run.stdout + run.stderr, /retrying|unreachable after|"retryCount":[1-9]/, 'no retries');
}

async function dropPrefixed(ch: ClickHouseClient, prefix: string): Promise<void> {
  const tables = await queryRows<{ name: string; engine: string }>(ch, `SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND startsWith(name, '${prefix}')`).catch(() => []);
  const rank = (engine: string) => (engine === 'View' ? 0 : engine === 'MaterializedView' ? 1 : 2);
  for (const { name } of tables.sort((a, b) => rank(a.engine) - rank(b.engine))) await ch.command({ query: `DROP TABLE IF EXISTS \`${name}\`` }).catch(() => {});
}

/**
 * `tributary run` of the card-fraud fixture (in-memory state, so Kafka is the first service it
 * needs after creating its ClickHouse tables) with `kafka` settings, through a proxy to `listener`.
 */
async function runAgainstKafka(s: SecureServices, listener: string, kafka: (proxy: CountingProxy) => Record<string, string>): Promise<{ run: CliRun; connections: number }> {
  return runThroughProxy(s, listener, kafka, 'refused');
}

const saslEnv = (s: SecureServices, proxy: CountingProxy, overrides: Record<string, string>) => ({
  KAFKA_BROKERS: proxy.address,
  KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
  KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
  KAFKA_SASL_USERNAME: s.kafka.tributary.name,
  KAFKA_SASL_PASSWORD_FILE: s.kafka.tributary.passwordFile,
  ...overrides,
});

async function withSecretFile<T>(secret: string, body: (file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tributary-secret-'));
  try {
    const file = path.join(dir, 'password');
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    return await body(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('Kafka: a wrong SASL password fails the start with KAFKA_SASL_PASSWORD after one connection', { timeout: 180_000 }, async () => {
  const s = secureServices();
  const wrong = randomBytes(12).toString('hex');
  await withSecretFile(wrong, async (file) => {
    const { run, connections } = await runAgainstKafka(s, s.kafka.saslPlaintext, (proxy) => saslEnv(s, proxy, { KAFKA_SASL_PASSWORD_FILE: file }));
    assertConfigError(run, 'KAFKA_SASL_PASSWORD');
    assert.match(run.stderr, /the broker rejected the credentials of user "tributary" with SCRAM-SHA-512/);
    assert.equal(connections, 1, 'one login, not retried');
    assertNoSecrets(run.stdout + run.stderr, knownSecrets(s, { 'wrong password tried': wrong }), 'the output');
  });
});

test('Kafka: a SASL mechanism that is not supported, and TLS against a listener without it, name KAFKA_SASL_MECHANISM and KAFKA_SECURITY_PROTOCOL', { timeout: 180_000 }, async () => {
  const s = secureServices();
  for (const mechanism of ['SCRAM-SHA-1', 'GSSAPI']) {
    const { run, connections } = await runAgainstKafka(s, s.kafka.saslPlaintext, (proxy) => saslEnv(s, proxy, { KAFKA_SASL_MECHANISM: mechanism }));
    assertConfigError(run, 'KAFKA_SASL_MECHANISM');
    assert.match(run.stderr, /use one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/);
    assert.equal(connections, 0, 'refused before connecting');
  }
  // SASL_SSL against the SASL_PLAINTEXT listener: the TLS check finds no TLS there.
  const { run, connections } = await runAgainstKafka(s, s.kafka.saslPlaintext, (proxy) => saslEnv(s, proxy, { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SSL_CA_FILE: s.tls.caCertFile }));
  assertConfigError(run, 'KAFKA_SECURITY_PROTOCOL');
  assert.equal(connections, 1);
  assertNoSecrets(run.stdout + run.stderr, knownSecrets(s), 'the output');
});

test('Kafka TLS: an untrusted CA names KAFKA_SSL_CA_FILE, a host name the certificate lacks names KAFKA_BROKERS, a missing client certificate names KAFKA_SSL_CERT_FILE; one connection each', { timeout: 240_000 }, async () => {
  const s = secureServices();
  // Node's public CAs do not know the throwaway CA.
  const untrusted = await runAgainstKafka(s, s.kafka.saslSsl, (proxy) => saslEnv(s, proxy, { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' }));
  assertConfigError(untrusted.run, 'KAFKA_SSL_CA_FILE');
  assert.match(untrusted.run.stderr, /not signed by a trusted CA \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\)/);
  assert.equal(untrusted.connections, 1);
  // 127.1 reaches 127.0.0.1, but is a name the certificate (127.0.0.1, localhost) does not carry.
  const wrongHost = await runAgainstKafka(s, s.kafka.saslSsl, (proxy) => saslEnv(s, proxy, { KAFKA_BROKERS: `127.1:${proxy.port}`, KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SSL_CA_FILE: s.tls.caCertFile }));
  assertConfigError(wrongHost.run, 'KAFKA_BROKERS');
  assert.match(wrongHost.run.stderr, /ERR_TLS_CERT_ALTNAME_INVALID|not issued for the host name/);
  assert.equal(wrongHost.connections, 1);
  // The mutual-TLS listener without a client certificate.
  const noCertificate = await runAgainstKafka(s, s.kafka.ssl, (proxy) => ({ KAFKA_BROKERS: proxy.address, KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: s.tls.caCertFile }));
  assertConfigError(noCertificate.run, 'KAFKA_SSL_CERT_FILE');
  assert.equal(noCertificate.connections, 1);
  for (const { run } of [untrusted, wrongHost, noCertificate]) assertNoSecrets(run.stdout + run.stderr, knownSecrets(s), 'the output');
});

/** `tributary run` on the demo source with online state in the secured Redis (through a proxy). */
async function runAgainstRedis(s: SecureServices, listener: 'url' | 'tlsUrl', redis: (proxy: CountingProxy) => Record<string, string>): Promise<{ run: CliRun; connections: number }> {
  return runThroughProxy(s, new URL(s.redis[listener]).host, redis, 'unused');
}

/** `tributary run` of the card-fraud fixture with `settings(proxy)`, the proxy in front of `target`; its tables dropped after. */
async function runThroughProxy(s: SecureServices, target: string, settings: (proxy: CountingProxy) => Record<string, string>, topic: string): Promise<{ run: CliRun; connections: number }> {
  const prefix = `${uniqueName('rp')}_`;
  const proxy = await startCountingProxy(target);
  const ch = secureClickHouse(s);
  try {
    const run = await runCli(['run', 'test/fixtures/card-fraud-from-env.ts'], {
      ...baseEnv(),
      ...secureEnv(s, { clickhouse: { https: true } }),
      ...settings(proxy),
      FRAUD_TEST_TOPIC: uniqueName(topic),
      FRAUD_TEST_PREFIX: prefix,
      PORT: '0',
      LOG_LEVEL: 'debug',
    });
    return { run, connections: proxy.connections() };
  } finally {
    await proxy.close();
    await dropPrefixed(ch, prefix);
    await ch.close();
  }
}

test('Redis: a wrong password names REDIS_PASSWORD, the read-only reader names REDIS_USERNAME (NOPERM), an untrusted CA names REDIS_TLS_CA_FILE; one connection each, no reconnects', { timeout: 240_000 }, async () => {
  const s = secureServices();
  const wrong = randomBytes(12).toString('hex');
  await withSecretFile(wrong, async (file) => {
    const { run, connections } = await runAgainstRedis(s, 'url', (proxy) => ({ REDIS_URL: `redis://${proxy.address}`, REDIS_USERNAME: 'tributary', REDIS_PASSWORD_FILE: file }));
    assertConfigError(run, 'REDIS_PASSWORD');
    assert.match(run.stderr, /Redis rejected the credentials of user "tributary" \(WRONGPASS\)/);
    assert.equal(connections, 1);
    assertNoSecrets(run.stdout + run.stderr, knownSecrets(s, { 'wrong password tried': wrong }), 'the output');
  });
  const reader = await runAgainstRedis(s, 'url', (proxy) => ({ REDIS_URL: `redis://${proxy.address}`, REDIS_USERNAME: s.redis.reader.name, REDIS_PASSWORD_FILE: s.redis.reader.passwordFile }));
  assertConfigError(reader.run, 'REDIS_USERNAME');
  assert.match(reader.run.stderr, /Redis user "reader" lacks a permission the engine needs \(NOPERM/);
  assert.equal(reader.connections, 1);
  const untrusted = await runAgainstRedis(s, 'tlsUrl', (proxy) => ({ REDIS_URL: `rediss://${proxy.address}`, REDIS_USERNAME: 'tributary', REDIS_PASSWORD_FILE: s.redis.tributary.passwordFile }));
  assertConfigError(untrusted.run, 'REDIS_TLS_CA_FILE');
  assert.equal(untrusted.connections, 1);
  for (const { run } of [reader, untrusted]) assertNoSecrets(run.stdout + run.stderr, knownSecrets(s), 'the output');
});

test('ClickHouse: a wrong password names CLICKHOUSE_PASSWORD (models list) or CLICKHOUSE_ANALYST_PASSWORD (query) after one HTTP request, an untrusted CA names CLICKHOUSE_CA_FILE', { timeout: 180_000 }, async () => {
  const s = secureServices();
  const wrong = randomBytes(12).toString('hex');
  const prefix = `${uniqueName('rc')}_`;
  const http = await startCountingProxy(new URL(s.clickhouse.url).host);
  const https = await startCountingProxy(new URL(s.clickhouse.httpsUrl).host);
  try {
    await withSecretFile(wrong, async (file) => {
      const env = { ...baseEnv(), CLICKHOUSE_URL: `http://${http.address}`, CLICKHOUSE_USER: 'tributary', CLICKHOUSE_PASSWORD_FILE: file, FRAUD_TEST_TOPIC: 'unused', FRAUD_TEST_PREFIX: prefix, LOG_LEVEL: 'debug' };
      const models = await runCli(['models', 'list', 'test/fixtures/card-fraud-from-env.ts'], env);
      assertConfigError(models, 'CLICKHOUSE_PASSWORD');
      assert.match(models.stderr, /ClickHouse rejected the password of user "tributary" \(Wrong password for user tributary/);
      assert.equal(http.httpRequests(), 1, 'one SELECT 1, not retried');
      // No engine on a free port: the command reads CLICKHOUSE_URL itself, as the read-only analyst user.
      const query = await runCli(['query', 'SELECT 1', '--url', `http://127.0.0.1:${await freePort()}`], { ...env, CLICKHOUSE_ANALYST_USER: s.clickhouse.analyst.name, CLICKHOUSE_ANALYST_PASSWORD_FILE: file });
      assertConfigError(query, 'CLICKHOUSE_ANALYST_PASSWORD');
      assert.equal(http.httpRequests(), 2, 'and one query');
      for (const run of [models, query]) assertNoSecrets(run.stdout + run.stderr, knownSecrets(s, { 'wrong password tried': wrong }), 'the output');
    });
    const untrusted = await runCli(['models', 'list', 'test/fixtures/card-fraud-from-env.ts'], { ...baseEnv(), CLICKHOUSE_URL: `https://${https.address}`, CLICKHOUSE_USER: 'tributary', CLICKHOUSE_PASSWORD_FILE: s.clickhouse.tributary.passwordFile, FRAUD_TEST_TOPIC: 'unused', FRAUD_TEST_PREFIX: prefix });
    assertConfigError(untrusted, 'CLICKHOUSE_CA_FILE');
    assert.equal(https.connections(), 1);
    assertNoSecrets(untrusted.stdout + untrusted.stderr, knownSecrets(s), 'the output');
  } finally {
    await http.close();
    await https.close();
  }
});

test('secret files: VAR and VAR_FILE together, and a missing file, fail before any connection, naming the variable', { timeout: 60_000 }, async () => {
  const s = secureServices();
  const both = await runCli(['models', 'list', 'test/fixtures/card-fraud-from-env.ts'], { ...baseEnv(), ...secureEnv(s, { clickhouse: { https: true } }), CLICKHOUSE_PASSWORD: 'inline-value', FRAUD_TEST_TOPIC: 'unused', FRAUD_TEST_PREFIX: 'unused_' });
  assertConfigError(both, 'CLICKHOUSE_PASSWORD');
  assert.match(both.stderr, /both CLICKHOUSE_PASSWORD and CLICKHOUSE_PASSWORD_FILE are set/);
  assert.doesNotMatch(both.stderr, /inline-value/);
  const missing = path.join(tmpdir(), uniqueName('no-such-file'));
  const absent = await runCli(['models', 'list', 'test/fixtures/card-fraud-from-env.ts'], { ...baseEnv(), ...secureEnv(s, { clickhouse: { https: true } }), CLICKHOUSE_PASSWORD_FILE: missing, FRAUD_TEST_TOPIC: 'unused', FRAUD_TEST_PREFIX: 'unused_' });
  assertConfigError(absent, 'CLICKHOUSE_PASSWORD_FILE');
  assert.match(absent.stderr, new RegExp(`${missing} does not exist`));
});
