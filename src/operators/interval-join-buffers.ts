import { retainAll, type AckToken } from '../core/ack.ts';
import type { StreamRecord } from '../core/batch.ts';
import { MinHeap } from './windows/session-heap.ts';

/** The acks of one input batch pair, retained once while any of its records is buffered. */
export interface Hold {
  acks: AckToken[];
  /** Buffered records of the batch not yet evicted. */
  live: number;
}

/** One buffered record of either side. */
export interface Buffered<V> {
  record: StreamRecord<V>;
  hold: Hold;
  /** Arrival order, so unmatched rows come out deterministically. */
  seq: number;
  isLeft: boolean;
  /** Left records: matched at least one right record. */
  matched: boolean;
  evicted: boolean;
}

/** The buffered records of one key; arrays keep arrival order and may hold evicted entries. */
export interface KeyBuffers<L, R> {
  left: Buffered<L>[];
  right: Buffered<R>[];
  live: number;
  dead: number;
}

/**
 * Checkpointed form of IntervalJoinBuffers, column-wise (v8 writes typed arrays as one block):
 * one entry per buffered record, by key, a key's left records (by arrival) before its right ones.
 */
export interface IntervalJoinBuffersState {
  /** Next arrival number. */
  seq: number;
  keys: string[];
  /** LEFT and MATCHED bits. */
  flags: Uint8Array;
  seqs: Float64Array;
  times: Float64Array;
  topics: string[];
  partitions: Int32Array;
  offsets: string[];
  values: unknown[];
}

const LEFT = 1;
const MATCHED = 2;

/**
 * The state of one interval join: one flat Map of per-key buffers (design rule 4) and one
 * min-heap of expiry times (eventTime + horizon), so eviction touches only expired records and
 * never scans keys (rule 6). Evicted entries are only flagged; a key's arrays are compacted
 * when they hold more dead than live entries, which keeps removal amortised O(1).
 *
 * @example
 * const buffers = new IntervalJoinBuffers<L, R>(withinMs + graceMs);
 * buffers.add(record, true, hold);
 * buffers.evictThrough(watermark, (entry) => { ... });
 */
export class IntervalJoinBuffers<L, R> {
  private readonly byKey = new Map<string, KeyBuffers<L, R>>();
  private readonly expiries = new MinHeap<Buffered<L> | Buffered<R>>();
  private seq = 0;

  constructor(private readonly horizonMs: number) {}

  get size(): number {
    return this.expiries.size;
  }

  get(key: string): KeyBuffers<L, R> | undefined {
    return this.byKey.get(key);
  }

  /** Buffers a record until the watermark reaches eventTime + horizon; the first record of a hold retains its acks. */
  add<V extends L | R>(record: StreamRecord<V>, isLeft: boolean, hold: Hold, matched: boolean): void {
    let buffers = this.byKey.get(record.key);
    if (buffers === undefined) this.byKey.set(record.key, (buffers = { left: [], right: [], live: 0, dead: 0 }));
    const entry: Buffered<V> = { record, hold, seq: this.seq++, isLeft, matched, evicted: false };
    if (isLeft) buffers.left.push(entry as Buffered<L>);
    else buffers.right.push(entry as Buffered<R>);
    buffers.live++;
    if (hold.live++ === 0) retainAll(hold.acks);
    this.expiries.push(record.eventTime + this.horizonMs, entry as Buffered<L> | Buffered<R>);
  }

  /** The buffered records as checkpointable data (see state/step-state.ts); call between batches. */
  snapshot(): IntervalJoinBuffersState {
    const n = this.expiries.size;
    const state: IntervalJoinBuffersState = { seq: this.seq, keys: [], flags: new Uint8Array(n), seqs: new Float64Array(n), times: new Float64Array(n), topics: [], partitions: new Int32Array(n), offsets: [], values: [] };
    let i = 0;
    const put = (e: Buffered<unknown>) => {
      if (e.evicted) return;
      const { record } = e;
      state.keys.push(record.key);
      state.flags[i] = (e.isLeft ? LEFT : 0) | (e.matched ? MATCHED : 0);
      state.seqs[i] = e.seq;
      state.times[i] = record.eventTime;
      state.topics.push(record.topic);
      state.partitions[i] = record.partition;
      state.offsets.push(record.offset);
      state.values.push(record.value);
      i++;
    };
    for (const buffers of this.byKey.values()) {
      for (const e of buffers.left) put(e);
      for (const e of buffers.right) put(e);
    }
    return state;
  }

  /** Replaces the (empty) buffers with checkpointed ones, all under `hold` (durable state: no acks); rebuilds the expiry heap. */
  restore(state: IntervalJoinBuffersState, hold: Hold): void {
    this.seq = state.seq;
    for (let i = 0; i < state.keys.length; i++) {
      const key = state.keys[i]!;
      const record: StreamRecord<unknown> = { value: state.values[i], key, eventTime: state.times[i]!, topic: state.topics[i]!, partition: state.partitions[i]!, offset: state.offsets[i]! };
      const isLeft = (state.flags[i]! & LEFT) !== 0;
      const entry = { record, hold, seq: state.seqs[i]!, isLeft, matched: (state.flags[i]! & MATCHED) !== 0, evicted: false } as Buffered<L> | Buffered<R>;
      let buffers = this.byKey.get(key);
      if (buffers === undefined) this.byKey.set(key, (buffers = { left: [], right: [], live: 0, dead: 0 }));
      if (isLeft) buffers.left.push(entry as Buffered<L>);
      else buffers.right.push(entry as Buffered<R>);
      buffers.live++;
      hold.live++;
      this.expiries.push(record.eventTime + this.horizonMs, entry);
    }
  }

  /** Evicts every record with eventTime + horizon <= watermark, in expiry order, calling `evicted` for each. */
  evictThrough(watermark: number, evicted: (entry: Buffered<L> | Buffered<R>) => void): void {
    const expiries = this.expiries;
    while (expiries.size > 0 && expiries.peekPriority() <= watermark) {
      const entry = expiries.pop()!;
      entry.evicted = true;
      const key = entry.record.key;
      const buffers = this.byKey.get(key)!;
      buffers.dead++;
      if (--buffers.live === 0) this.byKey.delete(key);
      else if (buffers.dead > buffers.live) compact(buffers);
      entry.hold.live--;
      evicted(entry);
    }
  }
}

function compact<L, R>(buffers: KeyBuffers<L, R>): void {
  buffers.left = buffers.left.filter((e) => !e.evicted);
  buffers.right = buffers.right.filter((e) => !e.evicted);
  buffers.dead = 0;
}
