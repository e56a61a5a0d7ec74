import type { Batch, StreamRecord } from '../core/batch.ts';
import { ConfigError, errorMessage, ScoringError } from '../core/errors.ts';
import { INITIAL_CAPACITY_ROWS, settle, takeMerged, writeRow, type MicroBatch, type Pending } from './micro-batch.ts';

/**
 * Groups the rows of many input batches into micro-batches for one model call each, and hands
 * the batches back in arrival order once all their rows are scored.
 *
 * Rows are copied into one Float32Array per micro-batch as they arrive. A micro-batch is sealed
 * when it holds `maxBatchRows` rows or `maxDelayMs` after its first row, whichever comes first;
 * sealed micro-batches run one at a time (the model gets one core, never the event loop's too).
 * A batch leaves only after every batch before it has left, so order is preserved exactly.
 */

/** A record whose features could not be extracted or scored, with the reason. */
export interface RowFailure<T> {
  record: StreamRecord<T>;
  error: string;
}

/** Why a micro-batch's rows were not scored: its run's rejection (kept, so callers can tell causes apart) and its message. */
export interface ScoringFailure {
  message: string;
  error: unknown;
}

/** An input batch with all its rows settled, handed to `emit` in arrival order. */
export interface SettledBatch<T> {
  batch: Batch<T>;
  /** Records that were sent to the model, in input order. */
  rows: StreamRecord<T>[];
  /** probabilities[i] belongs to rows[i] unless rowErrors[i] is set. */
  probabilities: Float32Array;
  /** Per-row scoring failure (its micro-batch failed, or the gate kept it from the model); null when every row was scored. */
  rowErrors: (ScoringFailure | undefined)[] | null;
  /** Records whose features could not be extracted; never sent to the model. */
  featureFailures: RowFailure<T>[];
  /** A second model's probability per row (NaN where it did not score); null when none ran. */
  challenger: Float32Array | null;
  /** What every row was scored with (MicroBatchScores.tag), when one tag covers them all (the usual case). */
  tag: unknown;
  /** Per row, when the batch's micro-batches had different tags (a swap between them); else null. */
  tags: unknown[] | null;
  /** A burst's chunk other than its last: more output of the same input batch follows (see addInChunks). */
  moreChunks: boolean;
}

/** A micro-batch's scores: one probability per row, and optionally a second model's and what scored them. */
export interface MicroBatchScores {
  probabilities: Float32Array;
  challenger?: Float32Array;
  tag?: unknown;
}

export interface MicroBatcherOptions<T> {
  maxBatchRows: number;
  maxDelayMs: number;
  /**
   * An input batch that leaves the open micro-batch with at least this many rows seals it at
   * once: a burst has nothing to wait for, and the model is better started now (default: never).
   */
  sealRows?: number;
  features: (value: T) => ArrayLike<number>;
  /** Values per row once known (the model's width); before that each micro-batch takes the width of its rows. */
  featureWidth: () => number | undefined;
  /**
   * Scores one micro-batch (`features` holds exactly rows * width values, `eventTimes` one per
   * row); a rejection fails its rows.
   */
  run: (features: Float32Array, rows: number, width: number, eventTimes: Float64Array) => Promise<Float32Array | MicroBatchScores>;
  /** Receives settled batches in arrival order, synchronously where possible. */
  emit: (settled: SettledBatch<T>) => void;
  /**
   * Rows with an event time before `staleBefore()` (asked once per input batch) are not sent to
   * the model: they settle at once with `failure` (a freshness gate, see freshness-gate.ts).
   */
  gate?: { staleBefore(): number; readonly failure: ScoringFailure };
}

/** A score step's micro-batch limits (defaults: 4096 rows, 10 ms, bursts in chunks of 512 rows), checked. */
export function microBatchLimits(step: string, options: { maxBatchRows?: number; maxDelayMs?: number; burstRows?: number }): { maxBatchRows: number; maxDelayMs: number; burstRows: number } {
  const maxBatchRows = options.maxBatchRows ?? 4096;
  const maxDelayMs = options.maxDelayMs ?? 10;
  const burstRows = options.burstRows ?? 512;
  if (!Number.isInteger(burstRows) || burstRows < 1) throw new ConfigError(`${step}.burstRows`, `${burstRows} is not a positive integer`, 'use e.g. 512');
  if (!Number.isInteger(maxBatchRows) || maxBatchRows < 1) throw new ConfigError(`${step}.maxBatchRows`, `${maxBatchRows} is not a positive integer`, 'use e.g. 1024');
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < 0) throw new ConfigError(`${step}.maxDelayMs`, `${maxDelayMs} is not a non-negative number`, 'use e.g. 10');
  return { maxBatchRows, maxDelayMs, burstRows };
}

export class MicroBatcher<T> {
  private readonly options: MicroBatcherOptions<T>;
  private readonly queue: Pending<T>[] = [];
  private readonly sealed: MicroBatch<T>[] = [];
  private open: MicroBatch<T> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private draining = false;
  private disposed = false;
  private drainedWaiters: (() => void)[] = [];

  constructor(options: MicroBatcherOptions<T>) {
    this.options = options;
  }

  /** Batches waiting for their rows or for an earlier batch. */
  get pendingBatches(): number {
    return this.queue.length;
  }

  /**
   * Takes one input batch; emits it at once when it has nothing to score and nothing is ahead of
   * it. `sealNow`: the batch's rows go to the model without waiting for others (a burst's chunk).
   */
  add(batch: Batch<T>, sealNow = false, moreChunks = false): void {
    if (this.disposed) return;
    const records = batch.records;
    const entry: Pending<T> = { batch, rows: [], probabilities: new Float32Array(records.length), rowErrors: null, featureFailures: [], challenger: null, tag: undefined, tags: null, moreChunks, unscored: 0 };
    const gate = this.options.gate;
    const staleBefore = gate === undefined || records.length === 0 ? -Infinity : gate.staleBefore();
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record.eventTime < staleBefore) {
        // In place among the rows, so the output keeps the input's order; never scored.
        entry.rowErrors ??= new Array<ScoringFailure | undefined>(records.length);
        entry.rowErrors[entry.rows.length] = gate!.failure;
        entry.rows.push(record);
      } else this.addRow(entry, record);
    }
    if (entry.unscored === 0 && this.queue.length === 0 && !this.draining) {
      this.options.emit(entry);
      return;
    }
    this.queue.push(entry);
    // maxDelayMs 0: nothing to wait for; rows added while a run is busy still queue up behind it.
    if (this.open !== null && (sealNow || this.options.maxDelayMs === 0 || this.open.rows >= (this.options.sealRows ?? Infinity))) this.seal();
    this.drain();
  }

  /**
   * A burst (a window close of many keys) in chunks of `rows`, each its own entry, so its own
   * output batch, with the input's acks, watermark and side outputs, sealed at once: the first
   * chunk is emitted once it is scored, not once the whole burst is. `beforeChunk` runs before
   * every chunk after the first (a caller that holds acks per output batch retains them again).
   */
  addInChunks(batch: Batch<T>, rows: number, beforeChunk: () => void): void {
    const { records } = batch;
    for (let start = 0; start < records.length; start += rows) {
      if (start > 0) beforeChunk();
      this.add({ records: records.slice(start, start + rows), watermark: batch.watermark, acks: batch.acks, side: batch.side }, true, start + rows < records.length);
    }
  }

  /** Seals the open micro-batch now and resolves once every batch taken so far has been emitted. */
  whenDrained(): Promise<void> {
    this.seal();
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainedWaiters.push(resolve));
  }

  /** Stops timers and emissions; a micro-batch already running finishes without emitting. */
  dispose(): void {
    this.disposed = true;
    this.clearTimer();
    this.open = null;
    this.sealed.length = 0;
    this.queue.length = 0;
  }

  private addRow(entry: Pending<T>, record: StreamRecord<T>): void {
    let values: ArrayLike<number>;
    try {
      values = this.options.features(record.value);
    } catch (error) {
      entry.featureFailures.push({ record, error: `features: ${errorMessage(error)}` });
      return;
    }
    const expected = this.options.featureWidth();
    if (values.length === 0 || (expected !== undefined && values.length !== expected)) {
      entry.featureFailures.push({ record, error: `features: feature vector has ${values.length} values, the model takes ${expected ?? 'at least 1'}` });
      return;
    }
    // Before the model's width is known, a micro-batch holds rows of one width; the model rejects a wrong one as a whole.
    if (this.open !== null && this.open.width !== values.length) this.seal();
    const target = this.open ?? this.startMicroBatch(values.length);
    const problem = writeRow(target, values, record.eventTime);
    if (problem !== undefined) {
      entry.featureFailures.push({ record, error: `features: ${problem}` });
      return;
    }
    const last = target.slices[target.slices.length - 1];
    // A slice covers consecutive rows of its entry (a stale row between two scored ones ends it).
    if (last !== undefined && last.entry === entry && last.entryStart + last.count === entry.rows.length) last.count++;
    else target.slices.push({ entry, entryStart: entry.rows.length, count: 1 });
    entry.rows.push(record);
    entry.unscored++;
    target.rows++;
    // maxDelayMs 0: add() seals once the batch's rows are in, no timer to set and clear.
    if (target.rows === 1 && this.options.maxDelayMs > 0) this.timer = setTimeout(() => this.seal(), this.options.maxDelayMs);
    if (target.rows >= this.options.maxBatchRows) this.seal();
  }

  private startMicroBatch(width: number): MicroBatch<T> {
    const capacity = Math.min(this.options.maxBatchRows, INITIAL_CAPACITY_ROWS);
    this.open = { width, values: new Float32Array(capacity * width), times: new Float64Array(capacity), rows: 0, slices: [] };
    return this.open;
  }

  private seal(): void {
    this.clearTimer();
    const batch = this.open;
    this.open = null; // an empty one (its only row was rejected) is dropped
    if (batch === null || batch.rows === 0) return;
    this.sealed.push(batch);
    void this.runNext();
  }

  private async runNext(): Promise<void> {
    if (this.running || this.disposed) return;
    // What queued up while the model was busy goes in one call (up to maxBatchRows): a burst's
    // first chunk is scored alone and fast, the rest in as few calls as the model's pace allows.
    const batch = takeMerged(this.sealed, this.options.maxBatchRows);
    if (batch === undefined) return;
    this.running = true;
    let scores: MicroBatchScores | undefined;
    let failure: ScoringFailure | undefined;
    try {
      const result = await this.options.run(batch.values.subarray(0, batch.rows * batch.width), batch.rows, batch.width, batch.times.subarray(0, batch.rows));
      scores = result instanceof Float32Array ? { probabilities: result } : result;
      const probabilities = scores.probabilities;
      if (probabilities.length < batch.rows) {
        const message = `model returned ${probabilities.length} probabilities for ${batch.rows} rows`;
        failure = { message, error: new ScoringError(message) };
      }
    } catch (error) {
      failure = { message: errorMessage(error), error };
    }
    this.running = false;
    if (this.disposed) return;
    settle(batch, failure === undefined ? scores : undefined, failure);
    // The next call first: the model works on it while this one's rows go through the sinks.
    void this.runNext();
    this.drain();
  }

  /** Emits settled batches from the head of the queue; re-entrant calls (from emit) are absorbed by the running loop. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (!this.disposed && this.queue.length > 0 && this.queue[0]!.unscored === 0) {
        this.options.emit(this.queue.shift()!);
      }
    } finally {
      this.draining = false;
    }
    if (this.queue.length === 0 && this.drainedWaiters.length > 0) {
      const waiters = this.drainedWaiters;
      this.drainedWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }
}
