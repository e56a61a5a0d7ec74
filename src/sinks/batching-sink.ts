import { releaseAll, retainAll, type AckToken } from '../core/ack.ts';
import { asError, ConfigError, errorMessage, SinkError, UsageError } from '../core/errors.ts';
import { backoffDelayMs, isRetriable, sleep } from '../core/retry.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { SinkReport } from './sink-report.ts';
import type { Sink } from './sink.ts';
import type { SinkTrace } from '../observability/tracing/batch-trace.ts';
import { SinkSpans } from '../observability/tracing/sink-spans.ts';

export interface BatchingSinkOptions<T = unknown> {
  name: string;
  topology: string;
  logger: Logger;
  metrics?: Metrics;
  /** Flush as soon as this many rows are buffered (default 10,000). */
  maxRows?: number;
  /** Flush this long after the first row entered an empty buffer (default 1000 ms). */
  maxDelayMs?: number;
  /** `isFull()` once this many rows are buffered or in flight (default 4 * maxRows). */
  maxBufferedRows?: number;
  /** Backoff between failed writes: doubles from initialDelayMs up to maxDelayMs, with jitter. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number; nonRetriableAttempts?: number };
  /**
   * Called once when a write failed with a non-retriable error `nonRetriableAttempts` times
   * (default 3): the rows can never be written, so the engine must stop instead of spinning.
   */
  onFatal?: (error: Error) => void;
  /**
   * Receives each row the destination rejects on its own, instead of stopping the engine. A
   * chunk that fails with a non-retriable error that `isRowRejection` accepts is bisected
   * (halves, recursively) to isolate such rows; the others are written. `acks` are the chunk's:
   * they are released only after this returns, so a hook that hands the row on (a dead-letter
   * sink) retains them until the row is stored there. When every row of a chunk of more than
   * one row is rejected, the cause is systemic (wrong schema, missing table) and the sink fails
   * as without a hook. A hook that throws fails the sink. Without a hook, rejections are fatal.
   */
  onRejectedRow?: (row: T, error: Error, acks: readonly AckToken[]) => void;
  /**
   * Whether a non-retriable failure may come from single rows (default: all may). Others (a
   * missing table, a denied user) are never bisected: they end in onFatal as without a hook.
   */
  isRowRejection?: (error: unknown) => boolean;
  /**
   * A row's event time (epoch ms): each acknowledged row is then observed in
   * tributary_end_to_end_latency_seconds{sink} (event time to acknowledgement).
   */
  eventTimeOf?: (row: T) => number;
}

/**
 * A sink that buffers rows and writes them in large chunks, one chunk in flight at a time.
 * Subclasses implement `writeRows`; this class owns batching, retries, backpressure and acks:
 * the ack tokens of a chunk are released only after `writeRows` resolved for it.
 */
export abstract class BatchingSink<T> implements Sink<T> {
  readonly name: string;
  protected readonly logger: Logger;
  private readonly report: SinkReport<T>;
  private readonly maxRows: number;
  private readonly maxDelayMs: number;
  private readonly maxBufferedRows: number;
  private readonly initialRetryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly nonRetriableAttempts: number;
  private readonly onFatal: ((error: Error) => void) | undefined;
  private readonly onRejectedRow: BatchingSinkOptions<T>['onRejectedRow'];
  private readonly isRowRejection: (error: unknown) => boolean;
  private unreport: (() => void) | undefined;

  private buffer: T[] = [];
  private bufferAcks: AckToken[] = [];
  private inFlight: Promise<void> | null = null;
  private inFlightRows = 0;
  /** Set when a flush was due while another was in flight. */
  private flushPending = false;
  private timer: NodeJS.Timeout | null = null;
  private readyWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private fatalError: Error | null = null;
  private closed = false;
  /** Tracing: one span per chunk write that holds traced rows. */
  private readonly spans = new SinkSpans();

  constructor(options: BatchingSinkOptions<T>) {
    this.name = options.name;
    this.logger = options.logger;
    this.report = new SinkReport(options.metrics, options.topology, options.name, options.eventTimeOf);
    this.maxRows = positive(options.maxRows ?? 10_000, `${options.name}.maxRows`);
    this.maxDelayMs = options.maxDelayMs ?? 1000;
    this.maxBufferedRows = positive(options.maxBufferedRows ?? 4 * this.maxRows, `${options.name}.maxBufferedRows`);
    this.initialRetryDelayMs = options.retry?.initialDelayMs ?? 200;
    this.maxRetryDelayMs = options.retry?.maxDelayMs ?? 10_000;
    this.nonRetriableAttempts = options.retry?.nonRetriableAttempts ?? 3;
    this.onFatal = options.onFatal;
    this.onRejectedRow = options.onRejectedRow;
    this.isRowRejection = options.isRowRejection ?? (() => true);
    this.unreport = this.report.reportBuffered(() => this.bufferedRows);
  }

  /** Writes one chunk to the destination; resolves once the destination acknowledged it. */
  protected abstract writeRows(rows: T[]): Promise<void>;

  async open(): Promise<void> {}

  write(rows: readonly T[], acks: readonly AckToken[], trace?: SinkTrace): void {
    if (this.fatalError) throw this.fatalError;
    if (this.closed) throw new UsageError(`sink ${this.name}: write after close`);
    // Nothing buffered means nothing to acknowledge later: the acks need no reference from us.
    if (rows.length === 0) return;
    if (trace !== undefined) this.spans.add(trace);
    const buffer = this.buffer;
    for (let i = 0; i < rows.length; i++) buffer.push(rows[i]!);
    retainAll(acks);
    for (let i = 0; i < acks.length; i++) this.bufferAcks.push(acks[i]!);
    if (buffer.length >= this.maxRows) this.requestFlush();
    else if (this.timer === null && !this.flushPending) this.startTimer();
  }

  /** Rows buffered plus rows in flight: what this sink holds in memory. */
  get bufferedRows(): number {
    return this.buffer.length + this.inFlightRows;
  }

  isFull(): boolean {
    return this.fatalError !== null || this.bufferedRows >= this.maxBufferedRows;
  }

  whenReady(): Promise<void> {
    if (this.fatalError) return Promise.reject(this.fatalError);
    if (this.bufferedRows < this.maxBufferedRows) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  async flush(): Promise<void> {
    while (this.buffer.length > 0 || this.inFlight !== null) {
      if (this.fatalError) throw this.fatalError;
      if (this.inFlight === null) this.startFlush();
      await this.inFlight;
    }
    if (this.fatalError) throw this.fatalError;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.closed = true;
      this.clearTimer();
      this.unreport?.();
      this.unreport = undefined;
    }
  }

  private startTimer(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.requestFlush();
    }, this.maxDelayMs);
    // A pending flush must never keep the process alive on its own.
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private requestFlush(): void {
    if (this.fatalError) return;
    if (this.inFlight !== null) this.flushPending = true;
    else this.startFlush();
  }

  private startFlush(): void {
    this.clearTimer();
    this.flushPending = false;
    const rows = this.buffer;
    const acks = this.bufferAcks;
    this.buffer = [];
    this.bufferAcks = [];
    this.inFlightRows = rows.length;
    const span = this.spans.start(`sink ${this.name}`, { 'tributary.sink': this.name, 'tributary.rows': rows.length });
    this.inFlight = this.writeWithRetry(rows, acks).then(() => {
      span?.end(this.fatalError ?? undefined);
      this.afterFlush();
    });
  }

  private afterFlush(): void {
    this.inFlight = null;
    this.inFlightRows = 0;
    if (this.fatalError) return;
    if (this.buffer.length > 0) {
      if (this.flushPending || this.buffer.length >= this.maxRows) this.startFlush();
      else if (this.timer === null) this.startTimer();
    }
    this.notifyReady();
  }

  private notifyReady(): void {
    if (this.readyWaiters.length === 0 || this.bufferedRows >= this.maxBufferedRows) return;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /**
   * Never rejects: transient failures are retried forever, permanent ones end in `fail`, or,
   * with an onRejectedRow hook, in bisecting the chunk. The acks are released once every row
   * was written or handed to the hook.
   */
  private async writeWithRetry(rows: T[], acks: AckToken[]): Promise<void> {
    const rejected: Array<{ row: T; error: Error }> = [];
    const progress = { writes: 0, bisecting: false };
    if (!(await this.writeOrBisect(rows, rejected, progress))) return;
    if (rejected.length > 0) {
      if (rejected.length === rows.length && rows.length > 1) {
        const first = rejected[0]!.error;
        this.fail(
          new SinkError(this.name, `every one of ${rows.length} rows was rejected, so the cause is systemic (missing table, permissions, wrong schema?), not bad rows: ${errorMessage(first)}`, { retriable: false, cause: first }),
          rows.length,
          progress.writes,
        );
        return;
      }
      this.logger.warn(
        { sink: this.name, rows: rows.length, rejected: rejected.length, writes: progress.writes, err: errorMessage(rejected[0]!.error) },
        `sink ${this.name}: ${rejected.length} of ${rows.length} rows rejected and handed on (first: ${errorMessage(rejected[0]!.error)}), the others written`,
      );
      try {
        for (const { row, error } of rejected) this.onRejectedRow!(row, error, acks);
      } catch (error) {
        this.fail(error, rejected.length, progress.writes);
        return;
      }
    }
    releaseAll(acks);
  }

  /** Writes `rows`, or bisects them on a row rejection; false once the sink failed. */
  private async writeOrBisect(rows: T[], rejected: Array<{ row: T; error: Error }>, progress: { writes: number; bisecting: boolean }): Promise<boolean> {
    let permanentFailures = 0;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      progress.writes++;
      try {
        await this.writeRows(rows);
        this.report.written(rows, (performance.now() - started) / 1000);
        return true;
      } catch (error) {
        this.report.failed();
        if (!isRetriable(error)) {
          if (this.onRejectedRow && this.isRowRejection(error)) {
            if (rows.length === 1) {
              rejected.push({ row: rows[0]!, error: asError(error) });
              return true;
            }
            const half = rows.length >>> 1;
            // One warning per chunk; the halves' own failures are details.
            this.logger[progress.bisecting ? 'debug' : 'warn']({ sink: this.name, rows: rows.length, err: errorMessage(error) }, `sink ${this.name}: ${rows.length} rows rejected (${errorMessage(error)}), writing them in halves to isolate the bad ones`);
            progress.bisecting = true;
            return (await this.writeOrBisect(rows.slice(0, half), rejected, progress)) && this.writeOrBisect(rows.slice(half), rejected, progress);
          }
          // Rows the destination rejects as invalid get a few tries (the cause may still be
          // transient, e.g. a table being recreated), then stop the engine rather than spin.
          if (++permanentFailures >= this.nonRetriableAttempts) {
            this.fail(error, rows.length, attempt);
            return false;
          }
        }
        const delayMs = backoffDelayMs(attempt, this.initialRetryDelayMs, this.maxRetryDelayMs);
        this.logger.warn(
          { sink: this.name, attempt, rows: rows.length, delayMs, err: errorMessage(error) },
          `sink ${this.name}: writing ${rows.length} rows failed (${errorMessage(error)}), retrying in ${delayMs} ms (attempt ${attempt + 1})`,
        );
        await sleep(delayMs);
      }
    }
  }

  private fail(error: unknown, rows: number, attempts: number): void {
    const fatal = asError(error);
    this.fatalError = fatal;
    this.clearTimer();
    this.logger.error(
      { sink: this.name, attempts, rows, err: errorMessage(error) },
      `sink ${this.name}: giving up on ${rows} rows after ${attempts} attempts: ${errorMessage(error)}`,
    );
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter.reject(fatal);
    this.onFatal?.(fatal);
  }
}

function positive(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(field, `${value} is not a positive integer`, 'use a whole number of rows, e.g. 10000');
  return value;
}
