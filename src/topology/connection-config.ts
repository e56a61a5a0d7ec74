import { ConfigError } from '../core/errors.ts';
import { readSecret } from '../core/secret-setting.ts';
import { KAFKA_SASL_MECHANISMS, KAFKA_SECURITY_PROTOCOLS, type KafkaSaslMechanism, type KafkaSecurity, type KafkaSecurityProtocol } from '../kafka/kafka-security.ts';
import type { RedisConnection, RedisSecurity } from '../state/redis-connection.ts';
import type { ClickHouseSecurity } from '../clickhouse/server-security.ts';
import { anyTlsSet, loadTlsFiles, type TlsFileVariables } from './tls-config.ts';

export type { KafkaSecurity } from '../kafka/kafka-security.ts';
export type { RedisSecurity } from '../state/redis-connection.ts';
export type { ClickHouseSecurity } from '../clickhouse/server-security.ts';

/**
 * Credentials and TLS of the three services, resolved at start (secrets read from their files).
 * Each is absent when none of its variables is set: a plain connection, as before.
 */
export interface ConnectionSecurity {
  kafkaSecurity?: KafkaSecurity;
  redisSecurity?: RedisSecurity;
  clickhouseSecurity?: ClickHouseSecurity;
}

type Env = NodeJS.ProcessEnv;

const KAFKA_SASL = ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'];
const KAFKA_TLS: TlsFileVariables = { ca: 'KAFKA_SSL_CA_FILE', cert: 'KAFKA_SSL_CERT_FILE', key: 'KAFKA_SSL_KEY_FILE', keyPassword: 'KAFKA_SSL_KEY_PASSWORD' };
const REDIS_TLS: TlsFileVariables = { ca: 'REDIS_TLS_CA_FILE', cert: 'REDIS_TLS_CERT_FILE', key: 'REDIS_TLS_KEY_FILE' };
const CLICKHOUSE_TLS: TlsFileVariables = { ca: 'CLICKHOUSE_CA_FILE', cert: 'CLICKHOUSE_CERT_FILE', key: 'CLICKHOUSE_KEY_FILE' };

const isSet = (env: Env, name: string) => env[name] !== undefined && env[name] !== '';
const firstSet = (env: Env, names: readonly string[]) => names.find((name) => isSet(env, name));
const hasUserInfo = (url: string) => /^[a-z]+:\/\/[^@/]+@/i.test(url);

/**
 * Reads KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*, REDIS_USERNAME, REDIS_PASSWORD[_FILE],
 * REDIS_TLS_*, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD[_FILE] and CLICKHOUSE_{CA,CERT,KEY}_FILE
 * (README "Secured connections"). A setting that would be ignored (TLS files with a plain URL,
 * SASL credentials without a SASL protocol) is an error, not a silent downgrade.
 */
export function loadConnectionSecurity(env: Env, urls: { redisUrl?: string; clickhouseUrl?: string }): ConnectionSecurity {
  const kafkaSecurity = kafkaSecurityOf(env);
  const redisSecurity = urls.redisUrl === undefined ? undefined : redisSecurityOf(env, urls.redisUrl);
  const clickhouseSecurity = urls.clickhouseUrl === undefined ? undefined : clickhouseSecurityOf(env, urls.clickhouseUrl);
  return {
    ...(kafkaSecurity === undefined ? {} : { kafkaSecurity }),
    ...(redisSecurity === undefined ? {} : { redisSecurity }),
    ...(clickhouseSecurity === undefined ? {} : { clickhouseSecurity }),
  };
}

function kafkaSecurityOf(env: Env): KafkaSecurity | undefined {
  const given = env.KAFKA_SECURITY_PROTOCOL?.trim().toUpperCase();
  const saslSet = firstSet(env, KAFKA_SASL);
  const tlsSet = anyTlsSet(env, KAFKA_TLS);
  if (!given) {
    if (saslSet || tlsSet) {
      throw new ConfigError('KAFKA_SECURITY_PROTOCOL', `${saslSet ?? 'a KAFKA_SSL_* file'} is set but KAFKA_SECURITY_PROTOCOL is not, so it would be ignored`, 'set KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SSL, SASL_PLAINTEXT), as the listener in KAFKA_BROKERS expects');
    }
    return undefined;
  }
  if (!(KAFKA_SECURITY_PROTOCOLS as readonly string[]).includes(given)) {
    throw new ConfigError('KAFKA_SECURITY_PROTOCOL', `"${env.KAFKA_SECURITY_PROTOCOL}" is not a Kafka security protocol`, `use one of ${KAFKA_SECURITY_PROTOCOLS.join(', ')}`);
  }
  const protocol = given as KafkaSecurityProtocol;
  const sasl = protocol.startsWith('SASL_');
  const tls = protocol === 'SSL' || protocol === 'SASL_SSL';
  if (!sasl && saslSet) throw new ConfigError(saslSet, `SASL settings have no effect with KAFKA_SECURITY_PROTOCOL=${protocol}`, `set KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT), or unset ${saslSet}`);
  if (!tls && tlsSet) throw new ConfigError('KAFKA_SECURITY_PROTOCOL', `KAFKA_SSL_* files have no effect with KAFKA_SECURITY_PROTOCOL=${protocol}`, 'set KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL, or unset the KAFKA_SSL_* variables');
  const security: KafkaSecurity = { protocol };
  if (sasl) security.sasl = kafkaSasl(env, protocol);
  if (tls) {
    const files = loadTlsFiles(env, KAFKA_TLS);
    if (files !== undefined) security.tls = files;
  }
  return security;
}

function kafkaSasl(env: Env, protocol: KafkaSecurityProtocol): NonNullable<KafkaSecurity['sasl']> {
  const mechanism = env.KAFKA_SASL_MECHANISM?.trim().toUpperCase();
  if (!mechanism) throw new ConfigError('KAFKA_SASL_MECHANISM', `KAFKA_SECURITY_PROTOCOL=${protocol} needs a SASL mechanism`, `set KAFKA_SASL_MECHANISM to one of ${KAFKA_SASL_MECHANISMS.join(', ')} (the one the broker has the user's credentials for)`);
  if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new ConfigError('KAFKA_SASL_MECHANISM', `"${env.KAFKA_SASL_MECHANISM}" is not a supported SASL mechanism`, `use one of ${KAFKA_SASL_MECHANISMS.join(', ')} (GSSAPI and OAUTHBEARER are not supported)`);
  }
  const username = env.KAFKA_SASL_USERNAME?.trim();
  if (!username) throw new ConfigError('KAFKA_SASL_USERNAME', `KAFKA_SECURITY_PROTOCOL=${protocol} needs a user`, 'set KAFKA_SASL_USERNAME to the SASL user the broker knows');
  const password = readSecret(env, 'KAFKA_SASL_PASSWORD');
  if (password === undefined) throw new ConfigError('KAFKA_SASL_PASSWORD', `KAFKA_SECURITY_PROTOCOL=${protocol} needs the password of ${username}`, 'set KAFKA_SASL_PASSWORD_FILE=/path/to/file (or KAFKA_SASL_PASSWORD)');
  return { mechanism: mechanism as KafkaSaslMechanism, username, password };
}

function redisSecurityOf(env: Env, url: string): RedisSecurity | undefined {
  const username = env.REDIS_USERNAME?.trim() || undefined;
  const password = readSecret(env, 'REDIS_PASSWORD');
  if (hasUserInfo(url) && (username !== undefined || password !== undefined)) {
    throw new ConfigError('REDIS_URL', 'REDIS_URL carries credentials and REDIS_USERNAME/REDIS_PASSWORD are set too', 'keep one: REDIS_USERNAME and REDIS_PASSWORD_FILE (preferred), or the credentials in REDIS_URL');
  }
  if (username !== undefined && password === undefined) {
    throw new ConfigError('REDIS_PASSWORD', `REDIS_USERNAME=${username} is set without a password`, 'set REDIS_PASSWORD_FILE=/path/to/file (or REDIS_PASSWORD)');
  }
  const tls = tlsFor(env, url, 'rediss:', 'REDIS_URL', REDIS_TLS, 'use a rediss:// URL for TLS (e.g. rediss://host:6380)');
  if (username === undefined && password === undefined && tls === undefined) return undefined;
  return { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }), ...(tls === undefined ? {} : { tls }) };
}

function clickhouseSecurityOf(env: Env, url: string): ClickHouseSecurity | undefined {
  const username = env.CLICKHOUSE_USER?.trim() || undefined;
  const password = readSecret(env, 'CLICKHOUSE_PASSWORD');
  if (hasUserInfo(url) && (username !== undefined || password !== undefined)) {
    throw new ConfigError('CLICKHOUSE_URL', 'CLICKHOUSE_URL carries credentials and CLICKHOUSE_USER/CLICKHOUSE_PASSWORD are set too', 'keep one: CLICKHOUSE_USER and CLICKHOUSE_PASSWORD_FILE (preferred), or the credentials in CLICKHOUSE_URL');
  }
  const tls = tlsFor(env, url, 'https:', 'CLICKHOUSE_URL', CLICKHOUSE_TLS, 'use an https:// URL for TLS (e.g. https://host:8443)');
  if (username === undefined && password === undefined && tls === undefined) return undefined;
  return { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }), ...(tls === undefined ? {} : { tls }) };
}

/** The TLS files of a URL-addressed service; an error when they are set for a plain URL. */
function tlsFor(env: Env, url: string, tlsScheme: string, urlVariable: string, names: TlsFileVariables, fix: string) {
  if (!anyTlsSet(env, names)) return undefined;
  if (!url.toLowerCase().startsWith(tlsScheme)) {
    throw new ConfigError(urlVariable, `${names.ca}/${names.cert} are set but ${urlVariable} does not use TLS (${new URL(url).protocol}), so they would be ignored`, fix);
  }
  return loadTlsFiles(env, names);
}

/** The engine's ClickHouse (server with its security, or the chDB directory), as connectClickHouse and the SQL endpoint take it. */
export function clickhouseTarget(config: { clickhouseUrl?: string; clickhouseDataDir: string; clickhouseSecurity?: ClickHouseSecurity }): { url?: string; dataDir: string; security?: ClickHouseSecurity } {
  return { url: config.clickhouseUrl, dataDir: config.clickhouseDataDir, ...(config.clickhouseSecurity === undefined ? {} : { security: config.clickhouseSecurity }) };
}

/** The engine's Redis with its security, or undefined without REDIS_URL. */
export function redisTarget(config: { redisUrl?: string; redisSecurity?: RedisSecurity }): RedisConnection | undefined {
  if (config.redisUrl === undefined) return undefined;
  return { url: config.redisUrl, ...(config.redisSecurity === undefined ? {} : { security: config.redisSecurity }) };
}
