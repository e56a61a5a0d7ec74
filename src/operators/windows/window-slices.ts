import { holdEarliest, type AckToken } from '../../core/ack.ts';
import type { ClosedWindow, CloseResult, Slice, WindowSlicesState } from './slice-types.ts';
import type { Batch } from '../../core/batch.ts';
import type { Aggregation } from './aggregations.ts';
import { decodeKeyedAccumulators, encodeKeyedAccumulators } from './keyed-accumulators.ts';
import { sliceStart, type WindowSpec } from './window-spec.ts';
import { windowEndsBetween } from './window-ends.ts';
import { BatchSequence } from './batch-sequence.ts';
import type { TraceContext } from '../../observability/tracing/pipeline-tracer.ts';

/** Most trace contexts one slice keeps (tracing on: the spans of traced batches that added to it). */
const MAX_SLICE_TRACES = 8;

export type { ClosedWindow, CloseResult, Slice, WindowSlicesState } from './slice-types.ts';

const NOTHING_CLOSED: CloseResult = { windows: [], acks: [], dropped: [], traces: [] };

/**
 * The open slices of one aggregate step, keyed by slice start, and the windows built from them.
 * With emit 'current' or an allowed lateness, slices also record the keys each batch changed and
 * `RevisionEmitter` (emit-revisions.ts) decides what to emit instead of `closeThrough`.
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
  private readonly recent: Array<Slice | null>; // per phase (one when aligned): a phase's records mostly fall into one slice
  /** Whether slices record changed keys (emit 'current' or allowed lateness > 0). */
  readonly tracking: boolean;
  private touched: Slice[] = [];
  private nextSeq = 0;
  /** Accumulators held (one per key and slice): the open-window count bounded by the runtime. */
  private entries = 0;
  private readonly batches = new BatchSequence();
  /** Start of the oldest open slice (Infinity when none): until it is past, dropThrough has nothing to do. */
  private oldestStart = Infinity;
  /** Slices holding trace contexts: while 0, emitting costs nothing for tracing. */
  private tracedSlices = 0;

  /**
   * @param holdAcks false with durable state: checkpoints cover the open slices, so slices keep
   * no ack tokens and offsets are not held back by open windows.
   */
  constructor(
    private readonly spec: WindowSpec,
    private readonly aggs: readonly Aggregation<T, unknown, unknown>[],
    private readonly holdAcks = true,
  ) {
    this.slicesPerWindow = spec.sizeMs / spec.hopMs;
    this.tracking = spec.emit === 'current' || spec.allowedLatenessMs > 0;
    this.recent = new Array<Slice | null>(spec.staggerMs > 0 ? spec.hopMs / spec.staggerMs : 1).fill(null);
  }

  /** Accumulators held over all open slices (one per key and slice). */
  get openEntries(): number {
    return this.entries;
  }

  /** Every window ending at or before this has had its first close. */
  get closedLimit(): number {
    return this.closedThrough;
  }

  /** The slice containing `eventTime` for keys of `phase` (staggered windows; else 0), created if needed; it retains `batch`'s acks once. */
  sliceFor(eventTime: number, batch: Batch<T>, phase = 0): Slice {
    const start = sliceStart(this.spec, eventTime, phase);
    const cached = phase === 0 ? 0 : phase / this.spec.staggerMs;
    const recent = this.recent[cached]!;
    let slice = recent !== null && recent.start === start ? recent : this.slices.get(start);
    if (slice === undefined) {
      slice = { start, states: new Map(), acks: [], lastBatch: 0, changed: this.tracking ? new Set() : null, seq: this.tracking ? new Map() : null };
      this.slices.set(start, slice);
      if (start < this.oldestStart) this.oldestStart = start;
    }
    this.recent[cached] = slice;
    const seq = this.batches.of(batch);
    if (this.holdAcks && slice.lastBatch !== seq) {
      slice.lastBatch = seq;
      for (const token of batch.acks) holdEarliest(slice.acks, token);
    }
    return slice;
  }

  add(slice: Slice, key: string, value: T, eventTime: number): void {
    const aggs = this.aggs;
    let state = slice.states.get(key);
    if (state === undefined) {
      state = this.newState();
      slice.states.set(key, state);
      this.entries++;
      if (slice.seq !== null) slice.seq.set(key, this.nextSeq++);
    }
    for (let i = 0; i < aggs.length; i++) state[i] = aggs[i]!.add(state[i], value, eventTime);
    if (slice.changed !== null) {
      if (slice.changed.size === 0) this.touched.push(slice);
      slice.changed.add(key);
    }
  }

  /** Tracing: records of the span `context` went into `slice`, so its windows descend from it. */
  noteTrace(slice: Slice, context: TraceContext): void {
    const traces = slice.traces;
    if (traces === undefined) {
      slice.traces = [context];
      this.tracedSlices++;
    } else if (traces.length < MAX_SLICE_TRACES && !traces.includes(context)) traces.push(context);
  }

  /** Slices changed since the last call (tracking specs); the caller clears their `changed`. */
  takeTouched(): Slice[] {
    const touched = this.touched;
    this.touched = [];
    return touched;
  }

  /** Ends in (previous limit, `limit`] of windows with records, ascending; marks them closed. */
  closingEnds(limit: number): number[] {
    if (limit <= this.closedThrough) return [];
    const ends = windowEndsBetween(this.spec, this.slices, this.closedThrough, limit);
    this.closedThrough = limit;
    return ends;
  }

  /** Adds the ack tokens (and, tracing, the trace contexts) of the slices of the window ending at `end`. */
  collectAcks(end: number, into: Set<AckToken>, traces?: TraceContext[]): void {
    for (let start = end - this.spec.sizeMs; start < end; start += this.spec.hopMs) {
      const slice = this.slices.get(start);
      if (slice === undefined) continue;
      for (const token of slice.acks) into.add(token);
      if (traces !== undefined && slice.traces !== undefined) for (const context of slice.traces) if (!traces.includes(context)) traces.push(context);
    }
  }

  /** A list to collect emitted windows' trace contexts in, or undefined while no slice has any. */
  traceCollector(): TraceContext[] | undefined {
    return this.tracedSlices > 0 ? [] : undefined;
  }

  /** Removes the slices whose last window ends at or before `horizon`; release their acks after emitting. */
  dropThrough(horizon: number): Slice[] {
    // Called on every batch: without a slice to drop, no look at all of them (staggered: one per phase and hop).
    if (this.oldestStart + this.spec.sizeMs > horizon) return [];
    const dropped: Slice[] = [];
    let oldest = Infinity;
    for (const slice of this.slices.values()) {
      if (slice.start + this.spec.sizeMs <= horizon) dropped.push(slice);
      else if (slice.start < oldest) oldest = slice.start;
    }
    this.oldestStart = oldest;
    for (const slice of dropped) {
      this.slices.delete(slice.start);
      this.entries -= slice.states.size;
      if (slice.traces !== undefined) this.tracedSlices--;
    }
    for (let i = 0; i < this.recent.length; i++) if (this.recent[i] !== null && this.recent[i]!.start + this.spec.sizeMs <= horizon) this.recent[i] = null;
    return dropped;
  }

  /**
   * The merged state of `keys` only in the window ending at `end` (tracking specs), in the window's
   * output order: by the key's earliest slice in the window, then its first arrival there.
   */
  mergeKeys(end: number, keys: Iterable<string>): Map<string, unknown[]> {
    const { sizeMs, hopMs } = this.spec;
    const aggs = this.aggs;
    const found: Array<{ key: string; slot: number; seq: number; state: unknown[] }> = [];
    for (const key of keys) {
      let entry: (typeof found)[number] | undefined;
      for (let start = end - sizeMs, slot = 0; start < end; start += hopMs, slot++) {
        const slice = this.slices.get(start);
        const partial = slice?.states.get(key);
        if (partial === undefined) continue;
        if (entry === undefined) {
          // One slice per window (tumbling): its accumulator is the window's, as in buildWindow.
          entry = { key, slot, seq: slice!.seq!.get(key)!, state: this.slicesPerWindow === 1 ? partial : this.newState() };
          found.push(entry);
          if (this.slicesPerWindow === 1) break;
        }
        for (let i = 0; i < aggs.length; i++) entry.state[i] = aggs[i]!.merge(entry.state[i], partial[i]);
      }
    }
    found.sort((a, b) => a.slot - b.slot || a.seq - b.seq);
    return new Map(found.map((e) => [e.key, e.state]));
  }

  /** Closes every window ending in (previous limit, `limit`], in end order; drops finished slices. */
  closeThrough(limit: number): CloseResult {
    if (limit <= this.closedThrough) return NOTHING_CLOSED;
    const ends = this.closingEnds(limit);
    const windows: ClosedWindow[] = [];
    const acks = new Set<AckToken>();
    const traces = this.traceCollector();
    for (const end of ends) {
      windows.push(this.buildWindow(end));
      this.collectAcks(end, acks, traces);
    }
    const dropped = this.dropThrough(limit);
    if (windows.length === 0 && dropped.length === 0) return NOTHING_CLOSED;
    return { windows, acks: [...acks], dropped, traces: traces ?? [] };
  }

  /** The merged state of every key in the window ending at `end`, in output order. */
  buildWindow(end: number): ClosedWindow {
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

  /** The open slices as checkpointable data (see state/step-state.ts); call between batches. */
  snapshot(): WindowSlicesState {
    const slices: WindowSlicesState['slices'] = [];
    for (const slice of this.slices.values()) slices.push({ start: slice.start, states: encodeKeyedAccumulators(this.aggs, slice.states), seq: slice.seq });
    return { closedThrough: this.closedThrough, nextSeq: this.nextSeq, slices };
  }

  /** Replaces the (empty) slices with checkpointed ones; they hold no acks (durable state). */
  restore(state: WindowSlicesState): void {
    this.slices.clear();
    this.recent.fill(null);
    this.oldestStart = Infinity;
    this.entries = 0;
    this.tracedSlices = 0;
    this.closedThrough = state.closedThrough;
    this.nextSeq = state.nextSeq;
    for (const saved of state.slices) {
      const states = decodeKeyedAccumulators(this.aggs, saved.states);
      this.slices.set(saved.start, { start: saved.start, states, acks: [], lastBatch: 0, changed: this.tracking ? new Set() : null, seq: this.tracking ? (saved.seq ?? new Map()) : null });
      if (saved.start < this.oldestStart) this.oldestStart = saved.start;
      this.entries += states.size;
    }
  }

  private newState(): unknown[] {
    const aggs = this.aggs;
    const state = new Array<unknown>(aggs.length);
    for (let i = 0; i < aggs.length; i++) state[i] = aggs[i]!.init();
    return state;
  }
}
