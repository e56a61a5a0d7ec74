import { deserialize, serialize } from 'node:v8';
import type { Redis } from 'ioredis';
import { ConnectionError, TributaryError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { CheckpointStore, PartitionCheckpoint } from './checkpoint-store.ts';
import { connectRedis, type RedisConnection } from './redis-connection.ts';

/**
 * Saves each partition's checkpoint unless the stored one is further on (a newer owner's), in
 * one script so the check and the write are atomic. Offsets are below 2^53, exact in Lua numbers.
 */
const SAVE_IF_NOT_BEHIND = `
local written = 0
for i, key in ipairs(KEYS) do
  local offset = ARGV[2 * i - 1]
  local stored = redis.call('HGET', key, 'offset')
  if not stored or tonumber(stored) <= tonumber(offset) then
    redis.call('HSET', key, 'offset', offset, 'data', ARGV[2 * i])
    written = written + 1
  end
end
return written`;

/** The connect-time permission check: a hash written by a script, expiring soon after. */
const CHECK_WRITE = `redis.call('HSET', KEYS[1], 'data', ARGV[1])
redis.call('PEXPIRE', KEYS[1], 10000)
return 1`;

/**
 * Turns serialized checkpoints into what Redis stores and back: data protection seals them (the
 * window state holds keys and sums of personal data), see runtime/window-state.ts.
 */
export interface CheckpointCodec {
  encode(bytes: Buffer): Buffer;
  decode(bytes: Buffer): Buffer;
}

/**
 * The latest checkpoint of each partition in its own Redis hash (offset, data) per topology,
 * consumer group and partition, so the instance that receives a partition in a rebalance loads
 * just that partition's state. A save is one script: Redis applies it atomically, so a crash
 * mid-save leaves the previous checkpoints intact and a partition's state and offset can never
 * come from different cuts.
 */
export class RedisCheckpointStore implements CheckpointStore {
  readonly description: string;

  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly codec: CheckpointCodec | undefined,
  ) {
    this.description = `redis keys ${prefix}<topic:partition>`;
  }

  /** The Redis key of one partition's checkpoint. */
  static keyOf(topology: string, groupId: string, partition: string): string {
    return `tributary:${topology}:checkpoint:${groupId}:${partition}`;
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
  static async connect(connection: RedisConnection | string, options: { topology: string; groupId: string; logger: Logger; connectTimeoutMs?: number; commandTimeoutMs?: number; codec?: CheckpointCodec }): Promise<RedisCheckpointStore> {
    const prefix = RedisCheckpointStore.keyOf(options.topology, options.groupId, '');
    const redis = await connectRedis(connection, {
      logger: options.logger,
      purpose: 'checkpoints',
      commandTimeoutMs: options.commandTimeoutMs ?? 30_000,
      connectTimeoutMs: options.connectTimeoutMs,
      maxReconnectDelayMs: 5_000,
      // What a save and a load run (a script that writes a hash; HGET), so a user without
      // them fails the start (NOPERM) instead of every checkpoint.
      check: async (redis) => {
        const key = `${prefix}connection-check`;
        await redis.eval(CHECK_WRITE, 1, key, String(process.pid));
        await redis.hgetBuffer(key, 'data');
      },
    });
    return new RedisCheckpointStore(redis, prefix, options.codec);
  }

  async load(partition: string): Promise<PartitionCheckpoint | null> {
    const key = this.prefix + partition;
    let bytes: Buffer | null;
    try {
      bytes = await this.redis.hgetBuffer(key, 'data');
    } catch (error) {
      throw new ConnectionError('Redis', `loading the checkpoint of ${partition} from ${key} failed`, error);
    }
    if (bytes === null) return null;
    let checkpoint: PartitionCheckpoint | undefined;
    try {
      checkpoint = deserialize(this.codec ? this.codec.decode(bytes) : bytes) as PartitionCheckpoint;
    } catch {
      // Sealed by data protection and read without it (or the other way round), or damaged.
      checkpoint = undefined;
    }
    if (checkpoint?.version !== 2) {
      throw new TributaryError(`checkpoint in ${key} has unknown format version ${String(checkpoint?.version)}; delete the key to start the partition from its committed offset with empty windows`, { code: 'CHECKPOINT_FORMAT' });
    }
    return checkpoint;
  }

  async save(checkpoints: readonly PartitionCheckpoint[]): Promise<number> {
    if (checkpoints.length === 0) return 0;
    const keys: string[] = [];
    const args: Array<string | Buffer> = [];
    let bytes = 0;
    for (const checkpoint of checkpoints) {
      const data = this.codec ? this.codec.encode(serialize(checkpoint)) : serialize(checkpoint);
      bytes += data.length;
      keys.push(this.prefix + checkpoint.partition);
      args.push(checkpoint.offset, data);
    }
    try {
      await this.redis.eval(SAVE_IF_NOT_BEHIND, keys.length, ...keys, ...args);
    } catch (error) {
      throw new ConnectionError('Redis', `saving checkpoints to ${this.description} failed`, error);
    }
    return bytes;
  }

  async offsetOf(partition: string): Promise<bigint | undefined> {
    const key = this.prefix + partition;
    try {
      const offset = await this.redis.hget(key, 'offset');
      return offset === null ? undefined : BigInt(offset);
    } catch (error) {
      throw new ConnectionError('Redis', `reading the checkpoint offset of ${partition} from ${key} failed`, error);
    }
  }

  async discard(partition: string): Promise<void> {
    const key = this.prefix + partition;
    try {
      await this.redis.del(key);
    } catch (error) {
      throw new ConnectionError('Redis', `deleting the checkpoint of ${partition} (${key}) failed`, error);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
