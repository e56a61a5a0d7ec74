import type { AckToken } from '../../core/ack.ts';
import type { Batch } from '../../core/batch.ts';
import { accumulatorsFromState, accumulatorsToState, type Aggregation } from './aggregations.ts';
import { MinHeap } from './session-heap.ts';
import { BatchSequence } from './batch-sequence.ts';

/** One open session of one key: events in [start, last], window [start, last + gap). */
export interface Session {
  key: string;
  start: number;
  /** Latest event time; the window ends at last + gap. */
  last: number;
  /** One accumulator per aggregation. */
  state: unknown[];
  /** Tokens of the batches that contributed, each retained once by this session (always empty with durable state). */
  acks: Set<AckToken>;
  /** BatchSequence number of the last batch with records in this session (0: none). */
  lastBatch: number;
  /** False once closed or merged into another session (its heap entry is then stale). */
  open: boolean;
}

/**
 * Checkpointed form of a SessionStore, column-wise (v8 writes a Float64Array as one block, far
 * faster than an object or array per session): one entry per open session, a key's sessions
 * together and by start.
 */
export interface SessionStoreState {
  keys: string[];
  starts: Float64Array;
  lasts: Float64Array;
  /** Sessions × aggregations, session-major, when every accumulator is a number; else null. */
  numbers: Float64Array | null;
  /** Otherwise each session's accumulators, through Aggregation.toState. */
  values: unknown[][] | null;
}

/** Shared by every session of a store that holds no acks: nothing is ever added to it. */
const NO_ACKS: Set<AckToken> = new Set();

/**
 * The open sessions of one session-window step. Per key, an array sorted by start; sessions of a
 * key are separated by at least `gap` (last_i + gap <= start_i+1), so the sessions a new event
 * touches are one contiguous run found by binary search. Closing uses one min-heap entry per
 * session whose priority is a lower bound of its end (ends only grow; stale entries are skipped
 * or re-inserted when they reach the top): no timer per window (design rule 6).
 *
 * @example
 * const store = new SessionStore(30_000, [count()]);
 * if (!store.add(batch, record.key, record.value, record.eventTime, watermark - grace)) late(record);
 * const closed = store.closeThrough(watermark - grace); // by window end, then key
 */
export class SessionStore<T> {
  private readonly byKey = new Map<string, Session[]>();
  private readonly ends = new MinHeap<Session>();
  private readonly batches = new BatchSequence();
  private open = 0;

  /**
   * @param holdAcks false with durable state: checkpoints cover open sessions, so they keep no
   * ack tokens and offsets are not held back by them.
   */
  constructor(
    private readonly gapMs: number,
    private readonly aggs: readonly Aggregation<T, unknown, unknown>[],
    private readonly holdAcks = true,
  ) {}

  /**
   * Adds one event; merges every open session of `key` it touches (an event within `gap` of
   * it). Returns false, changing nothing, when it touches none and its own session
   * [t, t + gap) ends at or before `closeLimit` (watermark before the batch minus grace): late.
   */
  add(batch: Batch<T>, key: string, value: T, t: number, closeLimit: number): boolean {
    const gap = this.gapMs;
    let sessions = this.byKey.get(key);
    const n = sessions === undefined ? 0 : sessions.length;
    // First session not entirely before t: last + gap > t (lasts increase with the index).
    let from = 0;
    let hi = n;
    while (from < hi) {
      const mid = (from + hi) >> 1;
      if (sessions![mid]!.last + gap > t) hi = mid;
      else from = mid + 1;
    }
    let to = from;
    while (to < n && sessions![to]!.start - gap < t) to++;
    let target: Session;
    if (from === to) {
      if (t + gap <= closeLimit) return false;
      target = { key, start: t, last: t, state: this.newState(), acks: this.holdAcks ? new Set() : NO_ACKS, lastBatch: 0, open: true };
      if (sessions === undefined) this.byKey.set(key, (sessions = []));
      sessions.splice(from, 0, target);
      this.ends.push(t + gap, target);
      this.open++;
    } else {
      target = sessions![from]!;
      // A bridging event: fold the later sessions into the earliest (merge's `a` is the earlier).
      for (let i = from + 1; i < to; i++) this.absorb(target, sessions![i]!);
      if (to - from > 1) {
        sessions!.splice(from + 1, to - from - 1);
        this.open -= to - from - 1;
      }
      if (t < target.start) target.start = t;
      if (t > target.last) target.last = t;
    }
    const seq = this.batches.of(batch);
    if (this.holdAcks && target.lastBatch !== seq) {
      target.lastBatch = seq;
      for (const token of batch.acks) {
        if (target.acks.has(token)) continue;
        token.retain();
        target.acks.add(token);
      }
    }
    const state = target.state;
    for (let i = 0; i < this.aggs.length; i++) state[i] = this.aggs[i]!.add(state[i], value, t);
    return true;
  }

  /** Closes every session with last + gap <= `limit`; returns them by window end, then key. */
  closeThrough(limit: number): Session[] {
    const closed: Session[] = [];
    const ends = this.ends;
    while (ends.size > 0 && ends.peekPriority() <= limit) {
      const session = ends.pop()!;
      if (!session.open) continue;
      const end = session.last + this.gapMs;
      if (end > limit) {
        ends.push(end, session); // the session grew since it was queued
        continue;
      }
      session.open = false;
      this.open--;
      closed.push(session);
      const sessions = this.byKey.get(session.key)!;
      if (sessions.length === 1) this.byKey.delete(session.key);
      else sessions.splice(sessions.indexOf(session), 1);
    }
    if (closed.length > 1) closed.sort((a, b) => a.last - b.last || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return closed;
  }

  /** Number of open sessions (for tests and the open-windows bound). */
  get openSessions(): number {
    return this.open;
  }

  /** The open sessions as checkpointable data (see state/step-state.ts); call between batches. */
  snapshot(): SessionStoreState {
    const n = this.open;
    const width = this.aggs.length;
    const keys = new Array<string>(n);
    const starts = new Float64Array(n);
    const lasts = new Float64Array(n);
    let numbers: Float64Array | null = new Float64Array(n * width);
    const states = new Array<unknown[]>(n);
    let i = 0;
    for (const [key, sessions] of this.byKey) {
      for (const session of sessions) {
        keys[i] = key;
        starts[i] = session.start;
        lasts[i] = session.last;
        states[i] = session.state;
        for (let a = 0; numbers !== null && a < width; a++) {
          const value = session.state[a];
          if (typeof value === 'number') numbers[i * width + a] = value;
          else numbers = null;
        }
        i++;
      }
    }
    return { keys, starts, lasts, numbers, values: numbers === null ? states.map((state) => accumulatorsToState(this.aggs, state)) : null };
  }

  /** Replaces the (empty) store with checkpointed sessions; the heap is rebuilt, no acks held. */
  restore(state: SessionStoreState): void {
    const { keys, starts, lasts, numbers, values } = state;
    const width = this.aggs.length;
    let sessions: Session[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      let accumulators: unknown[];
      if (numbers === null) accumulators = accumulatorsFromState(this.aggs, values![i]!);
      else {
        accumulators = new Array<unknown>(width); // not Array.from(subarray): ~40x slower per session
        for (let a = 0; a < width; a++) accumulators[a] = numbers[i * width + a];
      }
      const session: Session = { key, start: starts[i]!, last: lasts[i]!, state: accumulators, acks: this.holdAcks ? new Set() : NO_ACKS, lastBatch: 0, open: true };
      if (i === 0 || keys[i - 1] !== key) this.byKey.set(key, (sessions = []));
      sessions!.push(session);
      this.ends.push(session.last + this.gapMs, session);
    }
    this.open = keys.length;
  }

  private absorb(target: Session, other: Session): void {
    for (let i = 0; i < this.aggs.length; i++) target.state[i] = this.aggs[i]!.merge(target.state[i], other.state[i]);
    if (other.last > target.last) target.last = other.last;
    // The union of acks: a token both hold keeps one reference (target's), the extra one goes.
    for (const token of other.acks) {
      if (target.acks.has(token)) token.release();
      else target.acks.add(token);
    }
    other.open = false;
  }

  private newState(): unknown[] {
    const state = new Array<unknown>(this.aggs.length);
    for (let i = 0; i < this.aggs.length; i++) state[i] = this.aggs[i]!.init();
    return state;
  }
}
