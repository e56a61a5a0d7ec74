import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { EventTimeClock } from '../core/event-time-clock.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SourceBatch } from '../sources/source.ts';
import type { BatchRouter } from './batch-router.ts';
import type { Checkpointer } from './checkpointer.ts';
import type { IdleTicks } from './idle-ticks.ts';
import { InFlightBuffer } from './in-flight-buffer.ts';
import type { SinkSet } from './sink-set.ts';

interface QueuedBatch {
  /** null: an idleness tick, queued so it keeps its place behind the batches before it. */
  batch: SourceBatch<unknown> | null;
  size: number;
  /** Encoded bytes of the batch's records, when the source knows them. */
  bytes?: number;
  /** performance.now() when it was queued: where its processing latency starts. */
  arrivedAt: number;
}

/** What the process loop hands each batch to; built at start-up, after the queue. */
export interface BatchProcessing {
  router: BatchRouter;
  sinks: SinkSet;
  checkpointer: Checkpointer | null;
  idleTicks: IdleTicks | null;
  fail: (error: unknown) => void;
}

/**
 * The bounded queue between fetching and processing, and the loop that drains it: fetching waits
 * when the buffer is full; processing waits when a sink is full; so memory stays bounded when
 * anything downstream is slow.
 */
export class BatchQueue {
  readonly buffer: InFlightBuffer<QueuedBatch>;
  /** Times the source had to wait for room (fetching stopped). */
  fetchBlocked = 0;
  /** Times processing waited for a full sink. */
  sinkWaits = 0;
  private readonly topology: string;
  private readonly metrics: Metrics;

  constructor(topology: string, metrics: Metrics, maxRecords: number, maxBytes: number) {
    this.topology = topology;
    this.metrics = metrics;
    this.buffer = new InFlightBuffer(maxRecords, maxBytes);
    // The series exists from the start, so "never waited" reads 0 rather than absent.
    metrics.sinkWaitSeconds.inc({ topology }, 0);
  }

  /** Queues a source batch, waiting (and keeping the consumer alive) while the buffer is full. */
  async admit(batch: SourceBatch<unknown>, clock: EventTimeClock, keepAlive?: () => Promise<void>): Promise<void> {
    const size = Math.max(1, batch.records.length + batch.deadLetters.length);
    const bytes = batch.bytes ?? 0;
    if (!this.buffer.hasRoomFor(size, bytes)) {
      this.fetchBlocked++;
      this.metrics.fetchBlocked.inc({ topology: this.topology });
      clock.pauseIdleness(); // the source is held back, not silent: this wait is no idleness
      // Wake at least every second to keep the Kafka group membership alive while waiting.
      try {
        while (!(await this.buffer.waitForRoom(size, 1_000, bytes))) if (keepAlive) await keepAlive();
      } finally {
        clock.resumeIdleness();
      }
    }
    if (batch.records.length > 0) clock.touch(batch.partitionKey); // queued records: not idle
    this.buffer.push({ batch, size, bytes, arrivedAt: performance.now() });
    this.metrics.recordsIn.inc({ topology: this.topology }, size);
    this.metrics.inFlightRecords.set({ topology: this.topology }, this.buffer.size);
  }

  /** Queues an idleness tick behind the batches already queued. */
  pushIdleTick(): void {
    this.buffer.push({ batch: null, size: 0, arrivedAt: performance.now() });
  }

  /** No more batches: the process loop ends once the queued ones are done. */
  close(): void {
    this.buffer.close();
  }

  /** Processes queued batches in order until the queue is closed and empty. */
  async drain(processing: BatchProcessing): Promise<void> {
    const { router, sinks, checkpointer, idleTicks, fail } = processing;
    let lastYield = performance.now();
    for (;;) {
      const item = await this.buffer.take();
      if (item === null) break;
      // Queued batches resolve as microtasks, which starve timers and I/O (model results, sink
      // acknowledgements, commits, heartbeats, WebSocket sends): a turn every 5 ms and after a close.
      if (performance.now() - lastYield > 5 || router.takeClosed()) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      if (sinks.isFull()) {
        this.sinkWaits++;
        const since = performance.now();
        await sinks.whenReady();
        this.metrics.sinkWaitSeconds.inc({ topology: this.topology }, (performance.now() - since) / 1000);
      }
      try {
        if (item.batch) router.process(item.batch, item.arrivedAt);
        else {
          idleTicks?.taken();
          router.idleTick();
        }
        if (checkpointer?.due) await checkpointer.capture();
      } catch (error) {
        fail(error);
      }
      this.buffer.release(item.size, item.bytes);
      this.metrics.inFlightRecords.set({ topology: this.topology }, this.buffer.size);
    }
  }
}
