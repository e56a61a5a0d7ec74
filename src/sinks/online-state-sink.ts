import { releaseAll, retainAll, type AckToken } from '../core/ack.ts';
import type { StreamRecord } from '../core/batch.ts';
import { asError, errorMessage, UsageError } from '../core/errors.ts';
import { backoffDelayMs, isRetriable } from '../core/retry.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { KeyValueStore } from '../state/key-value-store.ts';
import type { Sink, SinkEnvironment } from './sink.ts';
import { DegradedEpisode } from './degraded-episode.ts';
import type { OnlineStateOptions, OnlineStateValue } from './online-state-options.ts';
import type { SinkTrace } from '../observability/tracing/batch-trace.ts';
import { SinkSpans } from '../observability/tracing/sink-spans.ts';

const MAX_ROWS = 5_000; // flush as soon as this many keys changed
const NON_RETRIABLE_ATTEMPTS = 3; // failed writes of values the store rejects as invalid before the engine stops

/** The sink onlineState() creates; its guarantees are described there (online-state.ts). */
export class OnlineStateSink<T> implements Sink<StreamRecord<T>> {
  readonly name: string;
  private store: KeyValueStore | null = null;
  private readonly metrics: Metrics;
  private readonly labels: { topology: string; store: string };
  private readonly sinkLabels: { topology: string; sink: string };
  /** Latest unwritten value per store key, oldest update first (an update moves its key last). */
  private pending = new Map<string, OnlineStateValue<T>>();
  private heldAcks: AckToken[] = []; // tokens of rows in `pending`, held while healthy until written
  private heldRows = 0;
  private inFlight: Promise<void> | null = null;
  private flushAgain = false;
  /** The delay before the next write: the batching delay, or the backoff after a failure. */
  private timer: NodeJS.Timeout | null = null;
  private failures = 0; // failed writes in a row
  private permanentFailures = 0; // of them, non-retriable
  private readonly degraded: DegradedEpisode;
  /** Tracing: one span per store write that holds traced rows. */
  private readonly spans = new SinkSpans();
  private dropWarned = false;
  private fatalError: Error | null = null;
  private closed = false;

  constructor(
    private readonly options: OnlineStateOptions<T>,
    private readonly ttlMs: number,
    private readonly maxPendingKeys: number,
    private readonly environment: SinkEnvironment,
  ) {
    this.name = `state:${options.prefix}`;
    this.metrics = environment.metrics;
    this.labels = { topology: environment.topology, store: this.name };
    this.sinkLabels = { topology: environment.topology, sink: this.name };
    this.degraded = new DegradedEpisode(this.metrics, this.labels);
  }

  async open(): Promise<void> {
    this.store = await this.environment.state();
    this.metrics.stateDegraded.set(this.labels, 0);
  }

  write(rows: readonly StreamRecord<T>[], acks: readonly AckToken[], trace?: SinkTrace): void {
    if (this.fatalError) throw this.fatalError;
    if (this.closed) throw new UsageError(`sink ${this.name}: write after close`);
    if (rows.length === 0) return;
    if (trace !== undefined) this.spans.add(trace);
    const updatedAt = Date.now();
    const { prefix, key } = this.options;
    let conflated = 0;
    for (const record of rows) {
      const storeKey = prefix + (key ? key(record) : record.key);
      if (this.pending.delete(storeKey)) conflated++;
      this.pending.set(storeKey, { value: record.value, eventTime: record.eventTime, updatedAt });
    }
    if (conflated > 0) this.metrics.stateConflatedUpdates.inc(this.labels, conflated);
    this.enforceBound();
    if (this.degraded.active) {
      // Degraded: the pending map has taken responsibility for these rows. Not retaining the
      // tokens acknowledges them; the retry timer writes the latest values once the store is back.
      this.metrics.sinkRows.inc(this.sinkLabels, rows.length);
      this.metrics.statePendingKeys.set(this.labels, this.pending.size);
      return;
    }
    retainAll(acks);
    for (const token of acks) this.heldAcks.push(token);
    this.heldRows += rows.length;
    if (this.failures > 0) return; // backing off after a permanent error: the timer retries
    if (this.pending.size >= MAX_ROWS) {
      if (this.inFlight !== null) this.flushAgain = true;
      else this.startFlush();
    } else if (this.timer === null && this.inFlight === null) this.startTimer(this.options.maxDelayMs ?? 200);
  }

  /** Never full: a store outage degrades this sink instead of stopping the engine. */
  isFull(): boolean {
    return this.fatalError !== null;
  }

  whenReady(): Promise<void> {
    return this.fatalError ? Promise.reject(this.fatalError) : Promise.resolve();
  }

  /**
   * Writes the pending values. While degraded it makes one more attempt and, if the store still
   * fails, returns: the rows are acknowledged and the background retries go on.
   */
  async flush(): Promise<void> {
    for (let attempts = 0; ; attempts++) {
      if (this.inFlight) await this.inFlight;
      if (this.fatalError) throw this.fatalError;
      if (this.pending.size === 0 && this.heldAcks.length === 0) return;
      if (attempts > 0 && this.degraded.active) {
        this.environment.logger.warn({ sink: this.name, pendingKeys: this.pending.size }, `sink ${this.name}: the store is still unreachable; ${this.pending.size} latest values stay pending`);
        return;
      }
      this.startFlush();
    }
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.closed = true;
      this.clearTimer();
      if (this.pending.size > 0 && !this.fatalError) {
        this.metrics.stateDroppedUpdates.inc(this.labels, this.pending.size);
        this.environment.logger.error({ sink: this.name, pendingKeys: this.pending.size }, `sink ${this.name}: closing with ${this.pending.size} latest values not written (store unreachable); those keys keep older values until updated again`);
        this.pending.clear();
      }
      this.degraded.account();
    }
  }

  private startTimer(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closed) this.startFlush();
    }, delayMs).unref();
  }

  /** Backoff after `failures` failed writes in a row, with jitter. */
  private retryDelayMs(): number {
    return backoffDelayMs(this.failures, this.options.retry?.initialDelayMs ?? 200, this.options.retry?.maxDelayMs ?? 5_000);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private startFlush(): void {
    this.clearTimer();
    this.flushAgain = false;
    const entries = this.pending;
    const acks = this.heldAcks;
    const rows = this.heldRows;
    this.pending = new Map();
    this.heldAcks = [];
    this.heldRows = 0;
    const span = this.spans.start(`sink ${this.name}`, { 'tributary.sink': this.name, 'tributary.rows': rows });
    this.inFlight = this.writeOnce(entries, acks, rows).then(() => {
      span?.end();
      this.inFlight = null;
      this.afterFlush();
    });
  }

  private afterFlush(): void {
    this.metrics.statePendingKeys.set(this.labels, this.pending.size);
    if (this.fatalError || this.closed || this.timer !== null || this.pending.size === 0) return;
    // Values that arrived during the write: at once if due, else after the batching delay.
    if (this.flushAgain || this.pending.size >= MAX_ROWS) this.startFlush();
    else this.startTimer(this.options.maxDelayMs ?? 200);
  }

  /** One attempt; never rejects: a failure puts the values back and schedules the next attempt. */
  private async writeOnce(entries: Map<string, OnlineStateValue<T>>, acks: AckToken[], rows: number): Promise<void> {
    const now = Date.now();
    const batch: Array<[string, OnlineStateValue<T>]> = [];
    for (const entry of entries) if (this.ttlMs === 0 || entry[1].updatedAt + this.ttlMs > now) batch.push(entry);
    if (batch.length === 0 && this.degraded.active) {
      // Nothing to write (every pending value expired): no proof the store is back; keep trying.
      releaseAll(acks);
      return this.startTimer(this.retryDelayMs());
    }
    const started = performance.now();
    try {
      if (batch.length > 0) await this.store!.setMany(batch, this.ttlMs);
    } catch (error) {
      this.writeFailed(error, entries, acks, rows);
      return;
    }
    this.metrics.sinkFlushSeconds.observe(this.sinkLabels, (performance.now() - started) / 1000);
    this.metrics.sinkRows.inc(this.sinkLabels, rows);
    releaseAll(acks);
    this.failures = 0;
    this.permanentFailures = 0;
    if (this.degraded.active) this.recover(batch.length);
  }

  private writeFailed(error: unknown, entries: Map<string, OnlineStateValue<T>>, acks: AckToken[], rows: number): void {
    this.failures++;
    this.metrics.stateWriteFailures.inc(this.labels);
    this.metrics.sinkErrors.inc(this.sinkLabels);
    // Put the values back in front; a key updated meanwhile keeps its newer value.
    const merged = new Map<string, OnlineStateValue<T>>();
    for (const [key, value] of entries) if (!this.pending.has(key)) merged.set(key, value);
    for (const [key, value] of this.pending) merged.set(key, value);
    this.pending = merged;
    if (!isRetriable(error)) {
      // Values the store can never accept: hold the rows, try a few times, then stop the engine.
      this.heldAcks = acks.concat(this.heldAcks);
      this.heldRows += rows;
      if (++this.permanentFailures >= NON_RETRIABLE_ATTEMPTS) {
        this.fatalError = asError(error);
        this.environment.logger.error({ sink: this.name, err: errorMessage(error) }, `sink ${this.name}: giving up after ${this.permanentFailures} attempts: ${errorMessage(error)}`);
        return this.environment.fail(this.fatalError);
      }
    } else {
      // The store is unavailable: take responsibility for the rows and degrade.
      releaseAll(acks);
      releaseAll(this.heldAcks);
      this.metrics.sinkRows.inc(this.sinkLabels, rows + this.heldRows);
      this.heldAcks = [];
      this.heldRows = 0;
      this.enforceBound();
      if (!this.degraded.active) this.degrade(error);
      else this.degraded.account();
    }
    const delayMs = this.retryDelayMs();
    const message = `sink ${this.name}: writing ${entries.size} latest values failed (${errorMessage(error)}); retrying in ${delayMs} ms`;
    this.environment.logger[this.failures === 1 ? 'warn' : 'debug']({ sink: this.name, attempt: this.failures, pendingKeys: this.pending.size, delayMs, err: errorMessage(error) }, message);
    this.startTimer(delayMs);
  }

  private degrade(error: unknown): void {
    this.degraded.begin();
    this.store!.setPending(this.name, true);
    const message = `sink ${this.name}: the state store is unavailable; degraded: rows are acknowledged, the latest value per key waits in memory (at most ${this.maxPendingKeys} keys) and lookups are stale until it is back`;
    this.environment.logger.warn({ sink: this.name, pendingKeys: this.pending.size, err: errorMessage(error) }, message);
  }

  private recover(written: number): void {
    const seconds = this.degraded.end();
    this.dropWarned = false;
    this.store!.setPending(this.name, false);
    this.environment.logger.info({ sink: this.name, written, degradedSeconds: seconds }, `sink ${this.name}: the state store is back; wrote ${written} pending latest values after ${seconds.toFixed(1)} s degraded`);
  }

  /** Drops the oldest pending updates beyond `maxPendingKeys` (ClickHouse keeps the history). */
  private enforceBound(): void {
    let excess = this.pending.size - this.maxPendingKeys;
    if (excess <= 0) return;
    const dropped = excess;
    for (const key of this.pending.keys()) {
      if (excess-- <= 0) break;
      this.pending.delete(key);
    }
    this.metrics.stateDroppedUpdates.inc(this.labels, dropped);
    // Warn once per episode (a persistent outage would drop on every write).
    const level = this.dropWarned ? 'debug' : 'warn';
    this.dropWarned = true;
    this.environment.logger[level]({ sink: this.name, dropped, maxPendingKeys: this.maxPendingKeys }, `sink ${this.name}: dropped the ${dropped} oldest pending updates (bound ${this.maxPendingKeys} keys)`);
  }
}
