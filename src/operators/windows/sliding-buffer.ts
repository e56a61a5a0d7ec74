import { releaseAll, retainAll, type AckToken } from '../../core/ack.ts';
import type { Aggregation } from './aggregations.ts';
import { MinHeap } from './session-heap.ts';

/** The acks of one batch, retained once while any of its records is buffered. */
export interface AckHold {
  acks: readonly AckToken[];
  live: number;
}

interface Entry<T> {
  time: number;
  value: T;
  hold: AckHold;
}

/** One key's records by event time (equal times in arrival order); entries before `head` are evicted. */
interface KeyBuffer<T> {
  key: string;
  entries: Entry<T>[];
  head: number;
  maxTime: number;
  dead: boolean;
}

/**
 * Checkpointed form of SlidingBuffers, column-wise (v8 writes typed arrays as one block): each
 * buffered key with its number of entries, then every entry, key after key and by time.
 */
export interface SlidingBuffersState {
  keys: string[];
  counts: Uint32Array;
  times: Float64Array;
  values: unknown[];
}

/**
 * Per key, the records still needed by a sliding-per-record step: those with event time above
 * the eviction horizon. A key is trimmed when it receives a record; keys that receive nothing
 * are dropped whole through a min-heap of their newest event time (lazily re-queued when they
 * got newer records), so idle keys do not stay in memory.
 *
 * @example
 * const buffers = new SlidingBuffers(60_000, [count()]);
 * const state = buffers.insertAndAggregate(key, value, t, hold, horizon, released);
 */
export class SlidingBuffers<T> {
  private readonly byKey = new Map<string, KeyBuffer<T>>();
  private readonly newest = new MinHeap<KeyBuffer<T>>();
  private buffered = 0;

  constructor(
    private readonly sizeMs: number,
    private readonly aggs: readonly Aggregation<T, unknown, unknown>[],
  ) {}

  /**
   * Buffers (t, value) after evicting the key's entries at or before `horizon`, and returns the
   * accumulators over the key's buffered entries with time in (t - size, t]: the ones that
   * arrived before it and itself. Holds whose last entry went are pushed onto `released`.
   */
  insertAndAggregate(key: string, value: T, t: number, hold: AckHold, horizon: number, released: AckHold[]): unknown[] {
    let buffer = this.byKey.get(key);
    if (buffer === undefined) {
      buffer = { key, entries: [], head: 0, maxTime: t, dead: false };
      this.byKey.set(key, buffer);
      this.newest.push(t, buffer);
    } else {
      this.trim(buffer, horizon, released);
      if (t > buffer.maxTime) buffer.maxTime = t;
    }
    const entries = buffer.entries;
    // After the last entry with time <= t: equal times stay in arrival order.
    const at = this.firstAfter(entries, buffer.head, t);
    hold.live++;
    this.buffered++;
    if (at === entries.length) entries.push({ time: t, value, hold });
    else entries.splice(at, 0, { time: t, value, hold });
    const from = this.firstAfter(entries, buffer.head, t - this.sizeMs);
    const aggs = this.aggs;
    const state = new Array<unknown>(aggs.length);
    for (let i = 0; i < aggs.length; i++) {
      const agg = aggs[i]!;
      let acc = agg.init();
      for (let j = from; j <= at; j++) acc = agg.add(acc, entries[j]!.value, entries[j]!.time);
      state[i] = acc;
    }
    return state;
  }

  /** Drops every key whose newest entry is at or before `horizon`. */
  dropIdleKeys(horizon: number, released: AckHold[]): void {
    const newest = this.newest;
    while (newest.size > 0 && newest.peekPriority() <= horizon) {
      const buffer = newest.pop()!;
      if (buffer.dead) continue;
      if (buffer.maxTime > horizon) {
        newest.push(buffer.maxTime, buffer); // it received newer records since it was queued
        continue;
      }
      this.trim(buffer, horizon, released);
      buffer.dead = true;
      this.byKey.delete(buffer.key);
    }
  }

  /** Buffered entries over all keys (for tests and the open-windows bound). */
  get size(): number {
    return this.buffered;
  }

  /** The buffered records as checkpointable data (see state/step-state.ts); call between batches. */
  snapshot(): SlidingBuffersState {
    const keys: string[] = [];
    const counts = new Uint32Array(this.byKey.size);
    const times = new Float64Array(this.buffered);
    const values = new Array<unknown>(this.buffered);
    let i = 0;
    for (const [key, { entries, head }] of this.byKey) {
      counts[keys.length] = entries.length - head;
      keys.push(key);
      for (let j = head; j < entries.length; j++, i++) {
        times[i] = entries[j]!.time;
        values[i] = entries[j]!.value;
      }
    }
    return { keys, counts, times, values };
  }

  /**
   * Replaces the (empty) buffers with checkpointed ones, all under `hold` (durable state holds no
   * acks); the idle-key heap is rebuilt from each key's newest time.
   */
  restore(state: SlidingBuffersState, hold: AckHold): void {
    const { keys, counts, times, values } = state;
    let i = 0;
    for (let k = 0; k < keys.length; k++) {
      const entries: Entry<T>[] = new Array(counts[k]!);
      for (let j = 0; j < entries.length; j++, i++) entries[j] = { time: times[i]!, value: values[i] as T, hold };
      if (entries.length === 0) continue;
      // Entries are by time, so the newest is last (the invariant insertAndAggregate keeps).
      const buffer: KeyBuffer<T> = { key: keys[k]!, entries, head: 0, maxTime: entries[entries.length - 1]!.time, dead: false };
      this.byKey.set(buffer.key, buffer);
      this.newest.push(buffer.maxTime, buffer);
      hold.live += entries.length;
      this.buffered += entries.length;
    }
  }

  private trim(buffer: KeyBuffer<T>, horizon: number, released: AckHold[]): void {
    const entries = buffer.entries;
    let head = buffer.head;
    while (head < entries.length && entries[head]!.time <= horizon) {
      const hold = entries[head]!.hold;
      if (--hold.live === 0) released.push(hold);
      head++;
    }
    this.buffered -= head - buffer.head;
    // Compact now and then so eviction stays O(1) amortised without unbounded garbage.
    if (head > 32 && head * 2 > entries.length) {
      entries.splice(0, head);
      head = 0;
    }
    buffer.head = head;
  }

  /** Index of the first entry at or after `from` with time > `time` (binary search). */
  private firstAfter(entries: readonly Entry<T>[], from: number, time: number): number {
    let lo = from;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (entries[mid]!.time > time) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Releases the acks of holds whose records have all been evicted. */
export function releaseHolds(holds: readonly AckHold[]): void {
  for (let i = 0; i < holds.length; i++) releaseAll(holds[i]!.acks);
}

/** A hold for `acks`, retained now; released by `releaseHolds` once its last entry is evicted. */
export function newHold(acks: readonly AckToken[]): AckHold {
  retainAll(acks);
  return { acks, live: 0 };
}
