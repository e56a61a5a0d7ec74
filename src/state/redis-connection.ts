import { Redis } from 'ioredis';
import { ConfigError, ConnectionError, errorMessage } from '../core/errors.ts';
import { tlsConfigError, type TlsSettings } from '../core/tls-settings.ts';
import type { Logger } from '../observability/logger.ts';

/** Credentials and TLS for Redis (REDIS_USERNAME, REDIS_PASSWORD[_FILE], REDIS_TLS_*). */
export interface RedisSecurity {
  /** An ACL user (Redis 6+); without it, the password is the default user's (requirepass). */
  username?: string;
  password?: string;
  /** rediss:// URLs only; without `ca` the server is checked against Node's public CAs. */
  tls?: TlsSettings;
}

/** A Redis server: redis:// or rediss:// (TLS), optionally with credentials in the URL. */
export interface RedisConnection {
  url: string;
  security?: RedisSecurity;
}

export interface ConnectRedisOptions {
  logger: Logger;
  /** What the connection is for, in messages ("checkpoints"). */
  purpose: string;
  commandTimeoutMs: number;
  connectTimeoutMs?: number;
  /** Longest wait between reconnect attempts after the connection drops. */
  maxReconnectDelayMs: number;
  /** Called before each reconnect attempt (after an outage, never for refused credentials). */
  onReconnect?: (attempt: number, delayMs: number) => void;
  /**
   * Runs the commands the caller will need once at connect, so a user without the permission
   * (NOPERM) fails the start rather than the first write.
   */
  check?: (redis: Redis) => Promise<unknown>;
}

const TLS_VARIABLES = { service: 'Redis', host: 'REDIS_URL', ca: 'REDIS_TLS_CA_FILE', cert: 'REDIS_TLS_CERT_FILE', protocol: 'REDIS_URL' };

/** The URL without its password, for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, (userinfo) => (userinfo.includes(':') ? `//${userinfo.slice(2, userinfo.indexOf(':'))}:***@` : userinfo));
}

/**
 * The one place an ioredis client is built from the settings. Connects, answers PING and runs
 * `check`. Refused credentials, missing permissions and TLS failures reject with a ConfigError
 * naming the setting, after one attempt, and the client never reconnects with them; an
 * unreachable server rejects with a ConnectionError. Commands are never queued while
 * disconnected, and commands in flight are not resent (see the stores).
 */
export async function connectRedis(target: RedisConnection | string, options: ConnectRedisOptions): Promise<Redis> {
  const connection = typeof target === 'string' ? { url: target } : target;
  const { url, security } = connection;
  const shown = redactRedisUrl(url);
  let lastError: Error | undefined;
  let refused: ConfigError | undefined;
  let connected = false;
  const redis = new Redis(url, {
    ...(security?.username === undefined ? {} : { username: security.username }),
    ...(security?.password === undefined ? {} : { password: security.password }),
    ...(url.startsWith('rediss:') ? { tls: tlsOptionsOf(security?.tls) } : {}),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: options.commandTimeoutMs,
    retryStrategy: (attempt) => {
      // Refused credentials stay refused: reconnecting would only repeat the refusal.
      refused ??= redisConfigError(lastError, connection);
      if (refused) {
        if (connected) options.logger.error({ url: shown, err: refused.message }, `Redis (${options.purpose}) refused the connection; not reconnecting`);
        return null;
      }
      const delayMs = Math.min(100 * 2 ** attempt, options.maxReconnectDelayMs);
      options.onReconnect?.(attempt, delayMs);
      return delayMs;
    },
  });
  redis.on('error', (error: Error) => {
    lastError = error;
    options.logger.debug({ err: errorMessage(error) }, `Redis (${options.purpose}) connection error`);
  });
  try {
    await withTimeout(redis.connect(), options.connectTimeoutMs ?? 15_000);
    await redis.ping();
    await options.check?.(redis);
  } catch (error) {
    redis.disconnect();
    // connect() itself only says "Connection is closed."; the reason came as an 'error' event.
    throw redisConfigError(error, connection) ?? redisConfigError(lastError, connection) ?? new ConnectionError('Redis', `cannot connect to ${shown} for ${options.purpose}; is it running? (scripts/services.sh start)`, lastError ?? error);
  }
  connected = true;
  return redis;
}

function tlsOptionsOf(settings: TlsSettings | undefined) {
  return {
    ...(settings?.ca === undefined ? {} : { ca: [settings.ca] }),
    ...(settings?.cert === undefined ? {} : { cert: settings.cert }),
    ...(settings?.key === undefined ? {} : { key: settings.key }),
    ...(settings?.passphrase === undefined ? {} : { passphrase: settings.passphrase }),
  };
}

/** A refusal that reconnecting cannot fix, as a ConfigError naming the setting; else undefined. */
export function redisConfigError(error: unknown, connection: RedisConnection): ConfigError | undefined {
  if (error === undefined) return undefined;
  const message = errorMessage(error);
  const inUrl = /\/\/[^@/]+@/.test(connection.url);
  const user = connection.security?.username ?? (inUrl ? new URL(connection.url).username || 'default' : 'default');
  if (message.startsWith('WRONGPASS')) {
    return new ConfigError(inUrl ? 'REDIS_URL' : 'REDIS_PASSWORD', `Redis rejected the credentials of user "${user}" (WRONGPASS)`, inUrl ? 'correct the user and password in REDIS_URL (or move them to REDIS_USERNAME and REDIS_PASSWORD_FILE)' : 'check REDIS_USERNAME and REDIS_PASSWORD (or REDIS_PASSWORD_FILE); the user must exist and be on (ACL SETUSER <user> on >password)');
  }
  if (message.startsWith('NOAUTH')) {
    return new ConfigError('REDIS_PASSWORD', 'Redis requires authentication and the connection sent none that it accepts (NOAUTH)', 'set REDIS_USERNAME and REDIS_PASSWORD_FILE (or REDIS_PASSWORD) to an ACL user of the server');
  }
  if (message.startsWith('NOPERM')) {
    return new ConfigError('REDIS_USERNAME', `Redis user "${user}" lacks a permission the engine needs (${message.split('\n', 1)[0]})`, `grant it the keys tributary:* and the commands the engine runs (e.g. ACL SETUSER ${user} ~tributary:* +@read +@write +@connection +@scripting +info), or set REDIS_USERNAME to a user that has them`);
  }
  return tlsConfigError(error, TLS_VARIABLES);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new ConnectionError('Redis', `no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
