import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Checkpoint, CheckpointStore } from '../state/checkpoint-store.ts';
import type { StateRegistry } from '../state/step-state.ts';
import type { EventTimeClock } from './event-time-clock.ts';
import type { CommittableOffset } from './offset-tracker.ts';

export interface CheckpointerOptions {
  topology: string;
  intervalMs: number;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Checkpoints with durable window state, in two steps:
 * 1. capture (in the engine's process loop, between batches, every `intervalMs`): once no
 *    asynchronous step holds records, serialize every stateful step and the clock, and note the
 *    next offset to read per partition (everything before it is inside that state or emitted).
 * 2. save (from the source's commit timer): once the sinks acknowledged every record before
 *    those offsets, i.e. the rows derived from them are written, save state and offsets in one
 *    atomic write; only then may the source commit those offsets to Kafka.
 * So Kafka's committed offsets never pass the saved state; a restart restores the state and
 * skips records below the checkpoint's offsets (already in the state) if Kafka had not caught up.
 */
export class Checkpointer {
  /** Next offset to read per partition, over every record processed so far. */
  private readonly positions = new Map<string, bigint>();
  /** Offsets of the last saved checkpoint: the most that may be committed. */
  private readonly saved = new Map<string, bigint>();
  private pending: Checkpoint | null = null;
  private lastCapture = performance.now();
  /** After a fatal error state may be half-updated: nothing more is captured or saved. */
  private abandoned = false;

  constructor(
    private readonly store: CheckpointStore,
    private readonly registry: StateRegistry,
    private readonly clock: EventTimeClock,
    private readonly options: CheckpointerOptions,
    resumed: Checkpoint | null,
  ) {
    for (const [key, offset] of resumed?.offsets ?? []) {
      this.positions.set(key, BigInt(offset));
      this.saved.set(key, BigInt(offset));
    }
  }

  /** Per partition, the first offset not covered by the resumed checkpoint (the source skips below it). */
  resumeFrom(): ReadonlyMap<string, bigint> {
    return new Map(this.saved);
  }

  /** Records up to `lastOffset` of `partitionKey` have passed through the pipeline. */
  noteProcessed(partitionKey: string, lastOffset: bigint): void {
    if (lastOffset >= 0n) this.positions.set(partitionKey, lastOffset + 1n);
  }

  /** A capture is due: the interval passed, the last capture was saved, and records moved on. */
  get due(): boolean {
    return !this.abandoned && this.pending === null && performance.now() - this.lastCapture >= this.options.intervalMs && this.hasProgress();
  }

  /** Snapshots state, clock and positions (waits first until no asynchronous step holds records). */
  async capture(): Promise<void> {
    await this.registry.whenAsyncIdle();
    if (this.abandoned) return;
    const started = performance.now();
    this.pending = {
      version: 1,
      topology: this.options.topology,
      offsets: new Map([...this.positions].map(([key, offset]) => [key, offset.toString()])),
      clock: this.clock.snapshot(),
      steps: this.registry.snapshot(),
      savedAt: 0,
    };
    this.lastCapture = performance.now();
    this.options.metrics.checkpointSeconds.observe({ topology: this.options.topology, phase: 'snapshot' }, (this.lastCapture - started) / 1000);
  }

  /**
   * Called with the offsets the sinks acknowledged (next offset per partition) before each
   * commit: saves the pending capture once it is fully acknowledged and returns the offsets that
   * may be committed, those of the last saved checkpoint.
   */
  async commitGate(acknowledged: ReadonlyMap<string, bigint>): Promise<CommittableOffset[]> {
    const pending = this.pending;
    if (pending !== null && !this.abandoned && this.acknowledgedAll(pending, acknowledged)) {
      const started = performance.now();
      try {
        pending.savedAt = Date.now();
        const bytes = await this.store.save(pending);
        for (const [key, offset] of pending.offsets) this.saved.set(key, BigInt(offset));
        if (this.pending === pending) this.pending = null;
        const labels = { topology: this.options.topology };
        this.options.metrics.checkpoints.inc(labels);
        this.options.metrics.checkpointBytes.set(labels, bytes);
        this.options.metrics.checkpointSeconds.observe({ ...labels, phase: 'save' }, (performance.now() - started) / 1000);
      } catch (error) {
        // Kept pending: the next commit tries again; meanwhile nothing newer is committed.
        this.options.logger.warn({ err: errorMessage(error), store: this.store.description }, 'saving the checkpoint failed; offsets stay at the previous checkpoint');
      }
    }
    return [...this.saved].map(([key, offset]) => {
      const colon = key.lastIndexOf(':');
      return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)), offset: offset.toString() };
    });
  }

  /** A fatal error: keep the last saved checkpoint as the restart point; save nothing newer. */
  abandon(): void {
    this.abandoned = true;
    this.pending = null;
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  private hasProgress(): boolean {
    for (const [key, offset] of this.positions) if (offset > (this.saved.get(key) ?? -1n)) return true;
    return false;
  }

  private acknowledgedAll(pending: Checkpoint, acknowledged: ReadonlyMap<string, bigint>): boolean {
    for (const [key, text] of pending.offsets) {
      const offset = BigInt(text);
      if (offset > (this.saved.get(key) ?? -1n) && (acknowledged.get(key) ?? -1n) < offset) return false;
    }
    return true;
  }
}
