import type { Redis } from 'ioredis';
import { ConnectionError, errorMessage, TributaryError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { StateUnavailableError, TrackedKeyValueStore } from './key-value-store.ts';
import { connectRedis, redactRedisUrl, type RedisConnection } from './redis-connection.ts';
import { setMany } from './redis-set-many.ts';

export interface RedisStoreOptions {
  prefix: string;
  logger: Logger;
  connectTimeoutMs?: number;
  /** Longest any command may take before it fails with a retriable error (default 2000 ms). */
  commandTimeoutMs?: number;
}

/**
 * Hot state in Redis: one JSON string per key, a batch written by a script in calls of a few
 * hundred keys (redis-set-many.ts).
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

  static async connect(connection: RedisConnection | string, options: RedisStoreOptions): Promise<RedisKeyValueStore> {
    const redis = await connectRedis(connection, {
      logger: options.logger,
      purpose: 'hot state',
      commandTimeoutMs: options.commandTimeoutMs ?? 2_000,
      connectTimeoutMs: options.connectTimeoutMs,
      maxReconnectDelayMs: 2_000,
      onReconnect: (attempt, delayMs) => options.logger.warn({ attempt, delayMs, url: redactRedisUrl(typeof connection === 'string' ? connection : connection.url) }, 'Redis unreachable, retrying'),
      // The writes of setMany (a script: EVALSHA), so a user without them fails the start (NOPERM), not the first batch.
      check: (redis) => setMany(redis, [`${options.prefix}connection-check`], [String(process.pid)], 10_000),
    });
    return new RedisKeyValueStore(redis, options.prefix);
  }

  /** Fails fast with a retriable ConnectionError while Redis is unreachable (see the class comment). */
  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs = 0): Promise<void> {
    if (entries.length === 0) return;
    const keys = new Array<string>(entries.length);
    const texts = new Array<string>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const [key, value] = entries[i]!;
      keys[i] = this.prefix + key;
      texts[i] = serialize(key, value);
    }
    try {
      await setMany(this.redis, keys, texts, ttlMs);
    } catch (error) {
      throw new ConnectionError('Redis', `write failed: ${errorMessage(error)}`, error);
    }
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

  /** One pipelined DEL per key, so the answer says which existed. */
  async delete(keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.del(this.prefix + key);
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      throw new ConnectionError('Redis', `delete failed: ${errorMessage(error)}`, error);
    }
    const failed = results?.find(([error]) => error);
    if (failed) throw new ConnectionError('Redis', `delete failed: ${failed[0]!.message}`, failed[0]);
    return (results ?? []).map(([, count]) => count === 1);
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
