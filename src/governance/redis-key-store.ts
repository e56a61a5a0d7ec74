import type { Redis } from 'ioredis';
import { ConnectionError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { connectRedis, type RedisConnection } from '../state/redis-connection.ts';
import type { KeyStore } from './key-store.ts';

export interface RedisKeyStoreOptions {
  /** Every key lives under it (default `tributary:keys:`): grant it to the engine's Redis user only. */
  prefix?: string;
  logger: Logger;
  commandTimeoutMs?: number;
}

/**
 * Keys in Redis, one string per key under their own prefix: SET NX makes the first writer win,
 * DEL destroys. Give the prefix its own ACL (README, "Data protection"): the engine's user reads
 * and writes it, analysts' users get no access to it. Failures are retriable ConnectionErrors.
 */
export class RedisKeyStore implements KeyStore {
  readonly description: string;

  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.description = `Redis keys ${prefix}*`;
  }

  static async connect(connection: RedisConnection | string, options: RedisKeyStoreOptions): Promise<RedisKeyStore> {
    const prefix = options.prefix ?? 'tributary:keys:';
    const redis = await connectRedis(connection, {
      logger: options.logger,
      purpose: 'the governance key store',
      commandTimeoutMs: options.commandTimeoutMs ?? 2_000,
      maxReconnectDelayMs: 2_000,
      // A user that cannot write the prefix fails the start, not the first new subject.
      check: (redis) => redis.set(`${prefix}connection-check`, String(process.pid), 'PX', 10_000),
    });
    return new RedisKeyStore(redis, prefix);
  }

  async get(ids: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (ids.length === 0) return found;
    const values = await this.call('reading keys', () => this.redis.mget(ids.map((id) => this.prefix + id)));
    ids.forEach((id, i) => {
      const value = values[i];
      if (typeof value === 'string') found.set(id, value);
    });
    return found;
  }

  async putIfAbsent(entries: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    if (entries.size === 0) return new Map();
    const pipeline = this.redis.pipeline();
    for (const [id, value] of entries) pipeline.set(this.prefix + id, value, 'NX');
    const results = await this.call('storing keys', () => pipeline.exec());
    const failed = results?.find(([error]) => error);
    if (failed) throw new ConnectionError('Redis', `key store: storing keys failed: ${failed[0]!.message}`, failed[0]);
    // Ids another writer stored first keep its value: read them all back.
    return this.get([...entries.keys()]);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.call('deleting a key', () => this.redis.del(this.prefix + id))) === 1;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async call<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new ConnectionError('Redis', `key store: ${what} failed: ${errorMessage(error)}`, error);
    }
  }
}
