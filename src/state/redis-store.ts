import { Redis } from 'ioredis';
import { ConnectionError, errorMessage, TributaryError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { StateUnavailableError, TrackedKeyValueStore } from './key-value-store.ts';

export interface RedisStoreOptions {
  prefix: string;
  logger: Logger;
  connectTimeoutMs?: number;
  /** Longest any command may take before it fails with a retriable error (default 2000 ms). */
  commandTimeoutMs?: number;
}

/**
 * Hot state in Redis: one JSON string per key, written with one pipeline per batch.
 *
 * During an outage nothing waits: commands are not queued while disconnected (they fail at
 * once), commands in flight fail when the connection drops and are not resent later (a resent
 * old value could overwrite a newer one), and none waits longer than `commandTimeoutMs` (a
 * Redis that accepts connections but does not answer). Callers retry: the online-state sink
 * keeps the latest value per key and degrades; lookups get a retriable `StateUnavailableError`.
 * ioredis reconnects in the background with backoff (at most 2 s apart), logging each attempt.
 */
export class RedisKeyValueStore extends TrackedKeyValueStore {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private readonly prefix: string;

  private constructor(redis: Redis, prefix: string) {
    super();
    this.redis = redis;
    this.prefix = prefix;
  }

  static async connect(url: string, options: RedisStoreOptions): Promise<RedisKeyValueStore> {
    const redis = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      retryStrategy: (attempt) => {
        const delay = Math.min(100 * 2 ** attempt, 2_000);
        options.logger.warn({ attempt, delayMs: delay, url: redactUrl(url) }, 'Redis unreachable, retrying');
        return delay;
      },
    });
    redis.on('error', (error) => options.logger.debug({ err: error }, 'Redis connection error'));
    try {
      await withTimeout(redis.connect(), options.connectTimeoutMs ?? 15_000);
      await redis.ping();
    } catch (error) {
      redis.disconnect();
      throw new ConnectionError('Redis', `cannot connect to ${redactUrl(url)}; is it running? (scripts/services.sh start)`, error);
    }
    return new RedisKeyValueStore(redis, options.prefix);
  }

  /** Fails fast with a retriable ConnectionError while Redis is unreachable (see the class comment). */
  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs = 0): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [key, value] of entries) {
      const text = serialize(key, value);
      if (ttlMs > 0) pipeline.set(this.prefix + key, text, 'PX', ttlMs);
      else pipeline.set(this.prefix + key, text);
    }
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      throw new ConnectionError('Redis', `write failed: ${errorMessage(error)}`, error);
    }
    const failed = results?.find(([error]) => error);
    if (failed) throw new ConnectionError('Redis', `write failed: ${failed[0]!.message}`, failed[0]);
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    let text: string | null;
    try {
      text = await this.redis.get(this.prefix + key);
    } catch (error) {
      throw new StateUnavailableError(`reading ${key} failed: ${errorMessage(error)}`, error);
    }
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** JSON of one value; a value JSON cannot hold is a permanent error (retrying cannot fix it). */
function serialize(key: string, value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError('the value serializes to nothing (undefined or a function)');
    return text;
  } catch (error) {
    throw new TributaryError(`hot state value for ${key} cannot be stored as JSON: ${errorMessage(error)}`, { retriable: false, code: 'STATE_VALUE', cause: error });
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
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
