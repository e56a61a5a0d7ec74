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

  /** Buffered entries over all keys (for tests and metrics). */
  get size(): number {
    let total = 0;
    for (const buffer of this.byKey.values()) total += buffer.entries.length - buffer.head;
    return total;
  }

  private trim(buffer: KeyBuffer<T>, horizon: number, released: AckHold[]): void {
    const entries = buffer.entries;
    let head = buffer.head;
    while (head < entries.length && entries[head]!.time <= horizon) {
      const hold = entries[head]!.hold;
      if (--hold.live === 0) released.push(hold);
      head++;
    }
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
