import { errorMessage } from '../../core/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';

interface PartitionPosition {
  topic: string;
  /** The partition number as a label value. */
  partition: string;
  /** The high watermark (the offset the next produced record gets); -1n until known. */
  end: bigint;
  /** The next offset this consumer hands to the pipeline; -1n until its first batch. */
  next: bigint;
  /**
   * The next offset this consumer fetches: past what it handed over and past what its fetches
   * skipped (transaction markers, aborted records); -1n until its first fetch in this assignment.
   */
  reached: bigint;
}

/** How often end offsets are polled for consumer lag (fetches bring them too, except while held back). */
const END_OFFSETS_POLL_MS = 5_000;

/**
 * The poll also tells a partition that is behind from one that is idle (see onBehind), so it runs
 * at least three times per idle timeout (and at most every 250 ms).
 */
export function endOffsetsPollMs(idleTimeoutMs: number): number {
  return idleTimeoutMs > 0 ? Math.max(250, Math.min(END_OFFSETS_POLL_MS, Math.floor(idleTimeoutMs / 3))) : END_OFFSETS_POLL_MS;
}

/** End offsets of a topic, as the Kafka admin API reports them. */
export type EndOffsets = () => Promise<ReadonlyArray<{ partition: number; high: string }>>;

/**
 * A Kafka consumer's position per assigned partition, for tributary_consumer_lag_records (high
 * watermark minus the next offset handed to the pipeline), tributary_partition_end_offset and
 * tributary_partition_paused. The source updates plain fields once per handed-over chunk; the
 * gauges are computed when scraped. High watermarks come with every fetch; a poll of the end
 * offsets keeps them current while fetching is held back, which is exactly when lag grows.
 */
export class ConsumerLag {
  /**
   * True while the source waits for room in the engine's in-flight buffer: the consumer fetches
   * nothing meanwhile, so every assigned partition is paused. (Set around the wait; a push that
   * finds room resolves before any scrape can observe the flag.)
   */
  waiting = false;
  private readonly positions = new Map<string, PartitionPosition>();
  private readonly unregister: Array<() => void>;
  private pollTimer: NodeJS.Timeout | null = null;
  private polling = false;
  private behindListener: ((partitionKey: string) => void) | null = null;

  constructor(metrics: Metrics, topology: string) {
    const labels = (p: PartitionPosition) => ({ topology, topic: p.topic, partition: p.partition });
    this.unregister = [
      metrics.consumerLag.report((gauge) => {
        for (const p of this.positions.values()) if (p.end >= 0n && p.next >= 0n) gauge.set(labels(p), Number(p.end > p.next ? p.end - p.next : 0n));
      }),
      metrics.partitionEndOffset.report((gauge) => {
        for (const p of this.positions.values()) if (p.end >= 0n) gauge.set(labels(p), Number(p.end));
      }),
      metrics.partitionPaused.report((gauge) => {
        for (const p of this.positions.values()) gauge.set(labels(p), this.waiting ? 1 : 0);
      }),
    ];
  }

  /** The partitions ('topic:partition' keys) this consumer now reads; the others are forgotten. */
  assign(partitionKeys: readonly string[]): void {
    const assigned = new Set(partitionKeys);
    for (const key of this.positions.keys()) if (!assigned.has(key)) this.positions.delete(key);
    for (const key of partitionKeys) this.position(key);
  }

  /** After handing a chunk to the pipeline: its next offset and the high watermark its fetch saw. */
  handedOver(partitionKey: string, nextOffset: bigint, highWatermark: string | undefined): void {
    const p = this.position(partitionKey);
    p.next = nextOffset;
    if (nextOffset > p.reached) p.reached = nextOffset;
    if (highWatermark !== undefined && highWatermark !== '') this.raiseEnd(p, BigInt(highWatermark));
  }

  /** A fetch of the partition was handled up to `nextOffset`, records skipped by the client included. */
  progressed(partitionKey: string, nextOffset: bigint): void {
    const p = this.positions.get(partitionKey);
    if (p !== undefined && nextOffset > p.reached) p.reached = nextOffset;
  }

  /**
   * Called on each end-offset poll tick with every partition that cannot be known to be caught up,
   * so it must keep holding the watermark back instead of counting as idle (Kafka Streams waits
   * likewise until a partition's lag is known to be zero):
   * - it has records in Kafka beyond what this consumer reached since its assignment (its fetches
   *   fail: a leader failing over);
   * - or its end offset cannot be read: the poll failed or is still waiting (a leader that died
   *   and has no successor yet; nothing can be produced to it, but nothing says it is silent).
   */
  onBehind(listener: (partitionKey: string) => void): void {
    this.behindListener = listener;
  }

  /**
   * Polls `endOffsets` of `topic` every `intervalMs`; failures are logged at debug and retried on
   * the next tick, and a warning says so once they have lasted a minute.
   */
  pollEndOffsets(topic: string, endOffsets: EndOffsets, intervalMs: number, logger: Logger): void {
    let failingSince = 0;
    let warned = false;
    this.pollTimer = setInterval(() => {
      if (this.polling) return this.reportUnknown(); // the last poll still waits for a leader
      this.polling = true;
      endOffsets()
        .then((ends) => {
          failingSince = 0;
          warned = false;
          for (const { partition, high } of ends) {
            const p = this.positions.get(`${topic}:${partition}`);
            if (p) this.raiseEnd(p, BigInt(high));
          }
          this.reportBehind();
        })
        .catch((error) => {
          logger.debug({ err: errorMessage(error), topic }, 'polling end offsets for consumer lag failed');
          this.reportUnknown();
          failingSince ||= Date.now();
          if (!warned && Date.now() - failingSince >= 60_000) {
            warned = true;
            logger.warn({ err: errorMessage(error), topic }, 'the end offsets of the topic could not be read for a minute: consumer lag is stale, and its partitions cannot count as idle meanwhile');
          }
        })
        .finally(() => {
          this.polling = false;
        });
    }, intervalMs);
    this.pollTimer.unref();
  }

  /** Stops polling and removes this consumer's series from the next scrape. */
  close(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    for (const remove of this.unregister) remove();
  }

  private reportUnknown(): void {
    const listener = this.behindListener;
    if (listener !== null) for (const key of this.positions.keys()) listener(key);
  }

  private reportBehind(): void {
    const listener = this.behindListener;
    if (listener === null) return;
    // Unknown (nothing fetched since the assignment) is not behind: a caught-up partition whose
    // fetches return nothing never reports progress, and a new assignment gets a full idle timeout anyway.
    for (const [key, p] of this.positions) if (p.reached >= 0n && p.end > p.reached) listener(key);
  }

  private position(partitionKey: string): PartitionPosition {
    let p = this.positions.get(partitionKey);
    if (p === undefined) {
      const split = partitionKey.lastIndexOf(':');
      p = { topic: partitionKey.slice(0, split), partition: partitionKey.slice(split + 1), end: -1n, next: -1n, reached: -1n };
      this.positions.set(partitionKey, p);
    }
    return p;
  }

  /** High watermarks only grow; a poll answered before a newer fetch must not lower it. */
  private raiseEnd(p: PartitionPosition, end: bigint): void {
    if (end > p.end) p.end = end;
  }
}
