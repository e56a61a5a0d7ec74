import type { AckToken } from '../../core/ack.ts';
import type { Batch } from '../../core/batch.ts';
import type { Aggregation } from './aggregations.ts';
import type { WindowSpec } from './window-spec.ts';

/**
 * Partial accumulators of every key over one slice [start, start + hop) of event time. A
 * hopping window of size/hop slices is the merge of its slices, so a record updates one
 * accumulator instead of size/hop (design rule 6); for tumbling windows the slice is the window.
 */
export interface Slice {
  start: number;
  /** Per key (in first-seen order), one accumulator per aggregation. */
  states: Map<string, unknown[]>;
  /** Source batches with records in this slice: retained until its last window is emitted. */
  acks: AckToken[];
  lastBatch: object | null;
}

/** A window whose end + grace the watermark has passed, with the merged state of each key. */
export interface ClosedWindow {
  start: number;
  end: number;
  /** Keys in first-seen order: earliest slice first, then the slice's own first-seen order. */
  states: Map<string, unknown[]>;
}

export interface CloseResult {
  windows: ClosedWindow[];
  /** Ack tokens of every slice in a closed window (each once): the emitted rows cover them. */
  acks: AckToken[];
  /** Slices whose last window was emitted: release their acks once downstream has retained. */
  dropped: Slice[];
}

const NOTHING_CLOSED: CloseResult = { windows: [], acks: [], dropped: [] };

/**
 * The open slices of one aggregate step, keyed by slice start, and the windows built from them.
 *
 * @example
 * const slices = new WindowSlices(spec, [count()]);
 * slices.add(slices.sliceFor(record.eventTime, batch), record.key, record.value, record.eventTime);
 * const { windows, acks, dropped } = slices.closeThrough(watermark - spec.graceMs);
 */
export class WindowSlices<T> {
  private readonly slices = new Map<number, Slice>();
  /** Every window ending at or before this has been closed (emitted if it had records). */
  private closedThrough = -Infinity;
  private readonly slicesPerWindow: number;
  // One-entry cache: consecutive records mostly fall into the same slice.
  private recent: Slice | null = null;

  constructor(
    private readonly spec: WindowSpec,
    private readonly aggs: readonly Aggregation<T, unknown, unknown>[],
  ) {
    this.slicesPerWindow = spec.sizeMs / spec.hopMs;
  }

  /** The slice containing `eventTime`, created if needed; it retains `batch`'s acks once. */
  sliceFor(eventTime: number, batch: Batch<T>): Slice {
    const start = Math.floor(eventTime / this.spec.hopMs) * this.spec.hopMs;
    let slice = this.recent !== null && this.recent.start === start ? this.recent : this.slices.get(start);
    if (slice === undefined) {
      slice = { start, states: new Map(), acks: [], lastBatch: null };
      this.slices.set(start, slice);
    }
    this.recent = slice;
    if (slice.lastBatch !== batch) {
      slice.lastBatch = batch;
      for (const token of batch.acks) {
        token.retain();
        slice.acks.push(token);
      }
    }
    return slice;
  }

  add(slice: Slice, key: string, value: T, eventTime: number): void {
    const aggs = this.aggs;
    let state = slice.states.get(key);
    if (state === undefined) {
      state = this.newState();
      slice.states.set(key, state);
    }
    for (let i = 0; i < aggs.length; i++) state[i] = aggs[i]!.add(state[i], value, eventTime);
  }

  /** Closes every window ending in (previous limit, `limit`], in end order; drops finished slices. */
  closeThrough(limit: number): CloseResult {
    if (limit <= this.closedThrough) return NOTHING_CLOSED;
    const { hopMs, sizeMs } = this.spec;
    const ends = new Set<number>();
    for (const slice of this.slices.values()) {
      // The windows containing a slice end at start + hop, ..., start + size.
      const last = Math.min(slice.start + sizeMs, limit);
      for (let end = slice.start + hopMs; end <= last; end += hopMs) if (end > this.closedThrough) ends.add(end);
    }
    this.closedThrough = limit;
    const dropped: Slice[] = [];
    for (const slice of this.slices.values()) if (slice.start + sizeMs <= limit) dropped.push(slice);
    if (ends.size === 0 && dropped.length === 0) return NOTHING_CLOSED;
    const windows: ClosedWindow[] = [];
    const acks = new Set<AckToken>();
    for (const end of [...ends].sort((a, b) => a - b)) {
      const window = this.buildWindow(end);
      windows.push(window);
      for (let start = end - sizeMs; start < end; start += hopMs) {
        const slice = this.slices.get(start);
        if (slice !== undefined) for (const token of slice.acks) acks.add(token);
      }
    }
    for (const slice of dropped) this.slices.delete(slice.start);
    if (this.recent !== null && this.recent.start + sizeMs <= limit) this.recent = null;
    return { windows, acks: [...acks], dropped };
  }

  private buildWindow(end: number): ClosedWindow {
    const start = end - this.spec.sizeMs;
    if (this.slicesPerWindow === 1) return { start, end, states: this.slices.get(start)?.states ?? new Map() };
    const aggs = this.aggs;
    const merged = new Map<string, unknown[]>();
    for (let sliceStart = start; sliceStart < end; sliceStart += this.spec.hopMs) {
      const slice = this.slices.get(sliceStart);
      if (slice === undefined) continue;
      for (const [key, partial] of slice.states) {
        let state = merged.get(key);
        if (state === undefined) {
          state = this.newState();
          merged.set(key, state);
        }
        for (let i = 0; i < aggs.length; i++) state[i] = aggs[i]!.merge(state[i], partial[i]);
      }
    }
    return { start, end, states: merged };
  }

  private newState(): unknown[] {
    const aggs = this.aggs;
    const state = new Array<unknown>(aggs.length);
    for (let i = 0; i < aggs.length; i++) state[i] = aggs[i]!.init();
    return state;
  }
}
