import { deserialize, serialize } from 'node:v8';
import { Redis } from 'ioredis';
import { ConnectionError, TributaryError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Checkpoint, CheckpointStore } from './checkpoint-store.ts';

/**
 * The latest checkpoint in one Redis key per topology and consumer group, written with a single
 * SET of the serialized checkpoint: Redis applies it atomically, so a crash mid-save leaves the
 * previous checkpoint intact and state and offsets can never come from different cuts.
 */
export class RedisCheckpointStore implements CheckpointStore {
  readonly description: string;

  private constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {
    this.description = `redis key ${key}`;
  }

  /**
   * During a Redis outage a save fails within seconds instead of waiting in ioredis' offline
   * queue (until 3 reconnect attempts had failed, or forever on a connection that stays open but
   * does not answer): commands are not queued while disconnected, commands in flight fail when
   * the connection drops and are not resent (an old checkpoint resent after a newer one would
   * replace it), and none waits longer than `commandTimeoutMs` (default 30 s: a checkpoint of
   * millions of windows is a SET of hundreds of MB). The checkpointer keeps a failed save
   * pending and tries again at the next commit; ioredis reconnects in the background.
   */
  static async connect(url: string, options: { topology: string; groupId: string; logger: Logger; connectTimeoutMs?: number; commandTimeoutMs?: number }): Promise<RedisCheckpointStore> {
    const redis = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 30_000,
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 5_000),
    });
    redis.on('error', (error) => options.logger.debug({ err: error }, 'Redis (checkpoints) connection error'));
    try {
      await Promise.race([
        redis.connect(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), options.connectTimeoutMs ?? 15_000).unref()),
      ]);
      await redis.ping();
    } catch (error) {
      redis.disconnect();
      throw new ConnectionError('Redis', `cannot connect to ${url.replace(/\/\/[^@/]*@/, '//***@')} for checkpoints; is it running? (scripts/services.sh start)`, error);
    }
    return new RedisCheckpointStore(redis, `tributary:${options.topology}:checkpoint:${options.groupId}`);
  }

  async load(): Promise<Checkpoint | null> {
    let bytes: Buffer | null;
    try {
      bytes = await this.redis.getBuffer(this.key);
    } catch (error) {
      throw new ConnectionError('Redis', `loading the checkpoint from ${this.description} failed`, error);
    }
    if (bytes === null) return null;
    const checkpoint = deserialize(bytes) as Checkpoint;
    if (checkpoint?.version !== 1) {
      throw new TributaryError(`checkpoint in ${this.description} has unknown format version ${String(checkpoint?.version)}; delete the key to start from the committed offsets with empty windows`, { code: 'CHECKPOINT_FORMAT' });
    }
    return checkpoint;
  }

  async save(checkpoint: Checkpoint): Promise<number> {
    const bytes = serialize(checkpoint);
    try {
      await this.redis.set(this.key, bytes);
    } catch (error) {
      throw new ConnectionError('Redis', `saving the checkpoint to ${this.description} failed`, error);
    }
    return bytes.length;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
