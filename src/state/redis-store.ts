import { Redis } from 'ioredis';
import { ConnectionError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { KeyValueStore } from './key-value-store.ts';

/**
 * Hot state in Redis: one JSON string per key, written with one pipeline per batch. ioredis
 * reconnects with backoff by itself; commands wait in its offline queue meanwhile.
 */
export class RedisKeyValueStore implements KeyValueStore {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private readonly prefix: string;

  private constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  static async connect(url: string, options: { prefix: string; logger: Logger; connectTimeoutMs?: number }): Promise<RedisKeyValueStore> {
    const redis = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 20,
      retryStrategy: (attempt) => {
        const delay = Math.min(100 * 2 ** attempt, 5_000);
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

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs = 0): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [key, value] of entries) {
      if (ttlMs > 0) pipeline.set(this.prefix + key, JSON.stringify(value), 'PX', ttlMs);
      else pipeline.set(this.prefix + key, JSON.stringify(value));
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw new ConnectionError('Redis', `write failed: ${failed[0]!.message}`, failed[0]);
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const text = await this.redis.get(this.prefix + key);
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
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
