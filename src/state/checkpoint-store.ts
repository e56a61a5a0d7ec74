import type { PartitionClockState } from '../core/event-time-clock.ts';

/**
 * One consistent cut of one partition's task: every stateful step's state and the partition's
 * clock after exactly the records before `offset`, whose derived rows every sink had
 * acknowledged when it was saved. Whoever owns the partition next (this process after a restart,
 * or another instance of the group after a rebalance) restores it and reads on from `offset`.
 */
export interface PartitionCheckpoint {
  /** Format version, so a future layout can refuse (or migrate) an old checkpoint clearly. */
  version: 2;
  topology: string;
  /** 'topic:partition'. */
  partition: string;
  /** The next offset to read (a decimal string, as Kafka commits it). */
  offset: string;
  clock: PartitionClockState;
  /** Serialized state per step name (see state/step-state.ts). */
  steps: Map<string, Uint8Array>;
  /** What a transactional output (exactly-once Kafka topic) emitted since the previous checkpoint. */
  output?: Uint8Array;
  savedAt: number;
}

/** Where checkpoints live: the latest one per topology, consumer group and partition. */
export interface CheckpointStore {
  readonly description: string;
  /** The latest saved checkpoint of `partition`, or null when there is none. */
  load(partition: string): Promise<PartitionCheckpoint | null>;
  /**
   * Replaces each partition's latest checkpoint atomically (a reader sees the old one or the new
   * one), unless the stored one is further on: after a rebalance the old owner may still save a
   * capture it took before it learned the partition moved, and that must not replace the new
   * owner's newer checkpoint. Resolves with the bytes written.
   */
  save(checkpoints: readonly PartitionCheckpoint[]): Promise<number>;
  /** The offset of the latest saved checkpoint of `partition`, without loading its state. */
  offsetOf(partition: string): Promise<bigint | undefined>;
  /** Deletes the checkpoint of `partition` (its offset no longer exists in the log). */
  discard(partition: string): Promise<void>;
  close(): Promise<void>;
}

/** Checkpoints held in this process only: for tests of the checkpoint protocol. */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly description = 'memory';
  readonly latest = new Map<string, PartitionCheckpoint>();
  saves = 0;

  async load(partition: string): Promise<PartitionCheckpoint | null> {
    return this.latest.get(partition) ?? null;
  }

  async save(checkpoints: readonly PartitionCheckpoint[]): Promise<number> {
    for (const checkpoint of checkpoints) {
      const stored = this.latest.get(checkpoint.partition);
      if (stored === undefined || BigInt(stored.offset) <= BigInt(checkpoint.offset)) this.latest.set(checkpoint.partition, checkpoint);
    }
    this.saves++;
    return 0;
  }

  async offsetOf(partition: string): Promise<bigint | undefined> {
    const stored = this.latest.get(partition);
    return stored === undefined ? undefined : BigInt(stored.offset);
  }

  async discard(partition: string): Promise<void> {
    this.latest.delete(partition);
  }

  async close(): Promise<void> {}
}
