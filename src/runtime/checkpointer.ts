import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { CheckpointStore, PartitionCheckpoint } from '../state/checkpoint-store.ts';
import type { EventTimeClock } from '../core/event-time-clock.ts';
import type { CommittableOffset } from '../core/offset-tracker.ts';
import { ConfigError } from '../core/errors.ts';
import type { TransactionalOutput } from '../sinks/sink.ts';

export interface CheckpointerOptions {
  topology: string;
  intervalMs: number;
  logger: Logger;
  metrics: Metrics;
  /**
   * Outputs committed with the checkpoints (at most one): with one, offsets are committed by its
   * transactions, which also carry the rows, not by the source.
   */
  outputs?: readonly TransactionalOutput[];
}

/** The per-partition tasks whose state checkpoints hold (runtime/partition-tasks.ts). */
export interface TaskStates {
  /** The serialized step states of the task reading `partition`; undefined when it has none (revoked). */
  snapshot(partition: string): Map<string, Uint8Array> | undefined;
  /** Resolves once no asynchronous step (scoring) of any task holds records. */
  whenAsyncIdle(): Promise<void>;
}

/**
 * Checkpoints with durable window state, one per partition, in two steps:
 * 1. capture (in the engine's process loop, between batches, every `intervalMs`): once no
 *    asynchronous step holds records, serialize each task that moved on, with its partition's
 *    clock, and note the next offset it reads (everything before it is inside that state or emitted).
 * 2. save (from the source's commit timer): once the sinks acknowledged every record of a
 *    partition before its captured offset, i.e. the rows derived from them are written, save
 *    that partition's state and offset in one atomic write; only then may the source commit the
 *    offset to Kafka.
 * So Kafka's committed offsets never pass the saved state; whoever reads the partition next
 * restores the state and skips records below the checkpoint's offset if Kafka had not caught up.
 */
export class Checkpointer {
  /** Next offset to read per partition, over every record processed so far. */
  private readonly positions = new Map<string, bigint>();
  /** Offsets of the last saved checkpoint per partition: the most that may be committed. */
  private readonly saved = new Map<string, bigint>();
  private readonly pending = new Map<string, PartitionCheckpoint>();
  private lastCapture = performance.now();
  /** After a fatal error state may be half-updated: nothing more is captured or saved. */
  private abandoned = false;
  private readonly output: TransactionalOutput | undefined;

  constructor(
    private readonly store: CheckpointStore,
    private readonly tasks: TaskStates,
    private readonly clock: EventTimeClock,
    private readonly options: CheckpointerOptions,
  ) {
    const outputs = options.outputs ?? [];
    if (outputs.length > 1) throw new ConfigError('sinks', `${outputs.map((o) => o.name).join(' and ')} are both exactly-once outputs; one topology supports one`, "make all but one delivery: 'at-least-once'");
    this.output = outputs[0];
  }

  get description(): string {
    return this.store.description;
  }

  /**
   * Loads the latest checkpoint of a partition this instance now reads, before its first batch;
   * its offset becomes the partition's position and the most that may be committed.
   */
  async load(partition: string): Promise<PartitionCheckpoint | null> {
    const checkpoint = await this.store.load(partition);
    this.revoke(partition);
    // Finishes a transaction the checkpoint saved but its owner did not commit, before any record.
    await this.output?.restore(partition, checkpoint && { offset: checkpoint.offset, output: checkpoint.output });
    if (checkpoint) {
      const offset = BigInt(checkpoint.offset);
      this.positions.set(partition, offset);
      this.saved.set(partition, offset);
    }
    return checkpoint;
  }

  /** The offset of the partition's saved checkpoint, without restoring it (offset gap checks). */
  peekOffset(partition: string): Promise<bigint | undefined> {
    return this.store.offsetOf(partition);
  }

  /** Deletes the partition's checkpoint: its offset is gone from the log and the gap was accepted. */
  async discard(partition: string): Promise<void> {
    this.revoke(partition);
    await this.store.discard(partition);
    this.options.logger.warn({ partition, store: this.store.description }, 'checkpoint discarded: the offset it covers is no longer in the log; the partition starts with empty windows');
  }

  /** A partition this instance no longer reads: its captures are not saved, its offsets not committed. */
  revoke(partition: string): void {
    this.output?.revoke(partition);
    this.positions.delete(partition);
    this.saved.delete(partition);
    this.pending.delete(partition);
  }

  /** Records up to `lastOffset` of `partitionKey` have passed through the pipeline. */
  noteProcessed(partitionKey: string, lastOffset: bigint): void {
    if (lastOffset >= 0n) this.positions.set(partitionKey, lastOffset + 1n);
  }

  /** A capture is due: the interval passed, the last capture was saved, and records moved on. */
  get due(): boolean {
    return !this.abandoned && this.pending.size === 0 && performance.now() - this.lastCapture >= this.options.intervalMs && this.hasProgress();
  }

  /** Snapshots each task that moved on, with its clock and position (after scoring has drained). */
  async capture(): Promise<void> {
    await this.tasks.whenAsyncIdle();
    if (this.abandoned) return;
    const started = performance.now();
    for (const [partition, offset] of this.positions) {
      if (offset <= (this.saved.get(partition) ?? -1n) && !this.output?.holds(partition)) continue;
      const steps = this.tasks.snapshot(partition);
      if (steps === undefined) continue;
      const checkpoint: PartitionCheckpoint = { version: 2, topology: this.options.topology, partition, offset: offset.toString(), clock: this.clock.partitionSnapshot(partition), steps, savedAt: 0 };
      if (this.output) checkpoint.output = this.output.capture(partition);
      this.pending.set(partition, checkpoint);
    }
    this.lastCapture = performance.now();
    this.options.metrics.checkpointSeconds.observe({ topology: this.options.topology, phase: 'snapshot' }, (this.lastCapture - started) / 1000);
  }

  /**
   * Called with the offsets the sinks acknowledged (next offset per partition) before each
   * commit: saves the pending captures whose records are all acknowledged and returns the offsets
   * that may be committed, those of the last saved checkpoints.
   */
  async commitGate(acknowledged: ReadonlyMap<string, bigint>): Promise<CommittableOffset[]> {
    const ready = [...this.pending.values()].filter((checkpoint) => (acknowledged.get(checkpoint.partition) ?? -1n) >= BigInt(checkpoint.offset));
    if (ready.length > 0 && !this.abandoned) {
      const started = performance.now();
      try {
        const savedAt = Date.now();
        for (const checkpoint of ready) checkpoint.savedAt = savedAt;
        const bytes = await this.store.save(ready);
        // Rows and offsets in one transaction per partition; a failure stops the engine (the
        // restart completes what the saved checkpoints hold).
        await this.output?.commit(ready.map(({ partition, offset, output }) => ({ partition, offset, output })));
        for (const checkpoint of ready) {
          // Revoked meanwhile: no longer ours to commit.
          if (this.pending.get(checkpoint.partition) !== checkpoint) continue;
          this.pending.delete(checkpoint.partition);
          this.saved.set(checkpoint.partition, BigInt(checkpoint.offset));
        }
        const labels = { topology: this.options.topology };
        this.options.metrics.checkpoints.inc(labels);
        this.options.metrics.checkpointBytes.set(labels, bytes);
        this.options.metrics.checkpointSeconds.observe({ ...labels, phase: 'save' }, (performance.now() - started) / 1000);
      } catch (error) {
        // Kept pending: the next commit tries again; meanwhile nothing newer is committed.
        this.options.logger.warn({ err: errorMessage(error), store: this.store.description }, 'saving the checkpoint failed; offsets stay at the previous checkpoint');
      }
    }
    // The transactions committed the offsets (with their ids as metadata, which a plain commit would replace).
    if (this.output) return [];
    return [...this.saved].map(([key, offset]) => {
      const colon = key.lastIndexOf(':');
      return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)), offset: offset.toString() };
    });
  }

  /** A fatal error: keep the last saved checkpoints as the restart point; save nothing newer. */
  abandon(): void {
    this.abandoned = true;
    this.pending.clear();
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  private hasProgress(): boolean {
    for (const [key, offset] of this.positions) if (offset > (this.saved.get(key) ?? -1n) || this.output?.holds(key)) return true;
    return false;
  }
}
