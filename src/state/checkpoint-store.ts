import type { ClockState } from '../runtime/event-time-clock.ts';

/**
 * One consistent cut of a running topology: every stateful step's state and the event-time
 * clock after exactly the records before `offsets`, whose derived rows every sink had
 * acknowledged when it was saved. A restart restores the state and reads on from `offsets`.
 */
export interface Checkpoint {
  /** Format version, so a future layout can refuse (or migrate) an old checkpoint clearly. */
  version: 1;
  topology: string;
  /** Per 'topic:partition': the next offset to read (a decimal string, as Kafka commits it). */
  offsets: Map<string, string>;
  clock: ClockState;
  /** Serialized state per step name (see state/step-state.ts). */
  steps: Map<string, Uint8Array>;
  savedAt: number;
}

/** Where checkpoints live: the latest one per topology and consumer group. */
export interface CheckpointStore {
  readonly description: string;
  /** The latest saved checkpoint, or null when there is none. */
  load(): Promise<Checkpoint | null>;
  /** Replaces the latest checkpoint atomically (a reader sees the old one or the new one). */
  save(checkpoint: Checkpoint): Promise<number>;
  close(): Promise<void>;
}

/** Checkpoints held in this process only: for tests of the checkpoint protocol. */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly description = 'memory';
  private latest: Checkpoint | null = null;
  saves = 0;

  async load(): Promise<Checkpoint | null> {
    return this.latest;
  }

  async save(checkpoint: Checkpoint): Promise<number> {
    this.latest = checkpoint;
    this.saves++;
    return 0;
  }

  async close(): Promise<void> {}
}
