import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import type { SecureServices, SecureUser } from './secure-services.ts';
import { REPO_ROOT } from './services.ts';

/**
 * Environments and raw clients for the secured services (test/helpers/secure-services.ts): the
 * CLI processes get every secret as a *_FILE setting; the test's own clients (to produce, to read
 * back, to check) are plain kafkajs, ioredis and @clickhouse/client configured here by hand,
 * independent of src/.
 */
export type KafkaListener = 'SASL_PLAINTEXT' | 'SASL_SSL' | 'SSL';
export type Mechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface SecureEnvOptions {
  kafka?: { listener: KafkaListener; mechanism?: Mechanism };
  redis?: { tls: boolean; user?: 'tributary' | 'reader' };
  clickhouse?: { https: boolean };
}

/** The process environment without any Kafka, Redis or ClickHouse setting (the shared plain services'). */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(KAFKA|REDIS|CLICKHOUSE)_/.test(name)) env[name] = value;
  }
  return env;
}

/** The secured services' settings for the CLI, secrets only as *_FILE paths. */
export function secureEnv(s: SecureServices, options: SecureEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  if (options.kafka) {
    const { listener, mechanism = 'SCRAM-SHA-512' } = options.kafka;
    env.KAFKA_BROKERS = listener === 'SASL_PLAINTEXT' ? s.kafka.saslPlaintext : listener === 'SASL_SSL' ? s.kafka.saslSsl : s.kafka.ssl;
    env.KAFKA_SECURITY_PROTOCOL = listener;
    if (listener !== 'SSL') {
      Object.assign(env, { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: s.kafka.tributary.name, KAFKA_SASL_PASSWORD_FILE: s.kafka.tributary.passwordFile });
    }
    if (listener !== 'SASL_PLAINTEXT') env.KAFKA_SSL_CA_FILE = s.tls.caCertFile;
    if (listener === 'SSL') Object.assign(env, { KAFKA_SSL_CERT_FILE: s.tls.clientCertFile, KAFKA_SSL_KEY_FILE: s.tls.clientKeyFile });
  }
  if (options.redis) {
    const user = options.redis.user === 'reader' ? s.redis.reader : s.redis.tributary;
    Object.assign(env, { REDIS_URL: options.redis.tls ? s.redis.tlsUrl : s.redis.url, REDIS_USERNAME: user.name, REDIS_PASSWORD_FILE: user.passwordFile });
    if (options.redis.tls) env.REDIS_TLS_CA_FILE = s.tls.caCertFile;
  }
  if (options.clickhouse) {
    // The analytics database, the one the read-only analyst user may read (POST /sql and tributary query run as it).
    const base = options.clickhouse.https ? s.clickhouse.httpsUrl : s.clickhouse.url;
    Object.assign(env, {
      CLICKHOUSE_URL: `${base.replace(/\/$/, '')}/${s.clickhouse.analyticsDatabase}`,
      CLICKHOUSE_USER: s.clickhouse.tributary.name,
      CLICKHOUSE_PASSWORD_FILE: s.clickhouse.tributary.passwordFile,
      CLICKHOUSE_ANALYST_USER: s.clickhouse.analyst.name,
      CLICKHOUSE_ANALYST_PASSWORD_FILE: s.clickhouse.analyst.passwordFile,
    });
    if (options.clickhouse.https) env.CLICKHOUSE_CA_FILE = s.tls.caCertFile;
  }
  return env;
}

/** A kafkajs client of the test's own as tributary on a secured listener. */
export function secureKafka(s: SecureServices, listener: KafkaListener, mechanism: Mechanism = 'SCRAM-SHA-512'): Kafka {
  const brokers = [listener === 'SASL_PLAINTEXT' ? s.kafka.saslPlaintext : listener === 'SASL_SSL' ? s.kafka.saslSsl : s.kafka.ssl];
  const sasl = listener === 'SSL' ? undefined : ({ mechanism: mechanism.toLowerCase(), username: s.kafka.tributary.name, password: s.kafka.tributary.password() } as SASLOptions);
  const ssl = listener === 'SASL_PLAINTEXT' ? undefined : { ca: [s.tls.ca], ...(listener === 'SSL' ? { cert: s.tls.clientCert, key: s.tls.clientKey() } : {}) };
  return new Kafka({ clientId: 'secure-test', brokers, logLevel: logLevel.NOTHING, ...(sasl ? { sasl } : {}), ...(ssl ? { ssl } : {}) });
}

/** tributary over HTTPS, checked against the throwaway CA. */
export function secureClickHouse(s: SecureServices): ClickHouseClient {
  return createClient({ url: s.clickhouse.httpsUrl, database: s.clickhouse.analyticsDatabase, username: s.clickhouse.tributary.name, password: s.clickhouse.tributary.password(), tls: { ca_cert: Buffer.from(s.tls.ca) }, log: { level: ClickHouseLogLevel.OFF } });
}

/** tributary on the ACL Redis over TLS. */
export function secureRedis(s: SecureServices, user: SecureUser = s.redis.tributary): Redis {
  return new Redis(s.redis.tlsUrl, { username: user.name, password: user.password(), tls: { ca: [s.tls.ca] }, maxRetriesPerRequest: 1 });
}

/** Every secret a log could leak: the six passwords, and each line of the client's and servers' private keys. */
export function knownSecrets(s: SecureServices, extra: Record<string, string> = {}): Map<string, string> {
  const secrets = new Map<string, string>();
  for (const [service, users] of [['kafka', [s.kafka.tributary, s.kafka.intruder]], ['redis', [s.redis.tributary, s.redis.reader]], ['clickhouse', [s.clickhouse.tributary, s.clickhouse.analyst]]] as const) {
    for (const user of users) secrets.set(`${service} password of ${user.name}`, user.password());
  }
  for (const [name, file] of [['client key', s.tls.clientKeyFile], ['server key', s.tls.serverKeyFile]] as const) {
    readFileSync(file, 'utf8').split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----')).forEach((line, i) => secrets.set(`${name} line ${i + 1}`, line));
  }
  for (const [name, value] of Object.entries(extra)) secrets.set(name, value);
  return secrets;
}

/** Fails naming the secret (never showing it) when `text` contains one. */
export function assertNoSecrets(text: string, secrets: Map<string, string>, where: string): void {
  assert.ok(text.length > 0, `${where}: nothing captured`);
  for (const [name, value] of secrets) assert.ok(!text.includes(value), `${where} contains the ${name}`);
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `tributary <args>` as a child process (node --import tsx src/cli/main.ts), killed after `timeoutMs`. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 180_000): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}
