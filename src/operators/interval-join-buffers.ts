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
