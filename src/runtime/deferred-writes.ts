import { releaseAll, retainAll, type AckToken } from '../core/ack.ts';

interface DeferredWrite {
  write: () => void;
  acks: readonly AckToken[];
  since: number;
}

/**
 * Storage writes (ClickHouse, Redis, Kafka topics) of the rows a window close emits, held back
 * while the burst is still being scored and pushed: such a write may serialize a whole buffer
 * (an insert, a pipeline) on the event loop, and a WebSocket push waiting behind it is what a
 * dashboard sees as latency. They run in arrival order once `busy()` says the close path is
 * done, and at most `maxDelayMs` after they were queued, so a long backlog never starves them.
 * Each write's ack tokens are retained while it waits: offsets still commit only after the sink
 * has the rows.
 */
export class DeferredWrites {
  private readonly queue: DeferredWrite[] = [];
  private readonly busy: () => boolean;
  private readonly maxDelayMs: number;
  private readonly onError: (error: unknown) => void;
  private scheduled = false;

  constructor(options: { busy: () => boolean; maxDelayMs: number; onError: (error: unknown) => void }) {
    this.busy = options.busy;
    this.maxDelayMs = options.maxDelayMs;
    this.onError = options.onError;
  }

  get size(): number {
    return this.queue.length;
  }

  defer(write: () => void, acks: readonly AckToken[]): void {
    retainAll(acks);
    this.queue.push({ write, acks, since: performance.now() });
    this.schedule(false);
  }

  /** Runs every queued write now (before a flush or close). */
  runAll(): void {
    this.runWhile(() => true);
  }

  /** Runs writes from the head while `due()` says so (writes may defer more: they queue behind). */
  private runWhile(due: (entry: DeferredWrite) => boolean): void {
    while (this.queue.length > 0 && due(this.queue[0]!)) {
      const entry = this.queue.shift()!;
      try {
        entry.write();
      } catch (error) {
        this.onError(error);
      } finally {
        releaseAll(entry.acks);
      }
    }
  }

  private schedule(waiting: boolean): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // While the close path is busy, look again in a millisecond (timers run before the model's
    // setImmediate and the pushes it resolves); otherwise right after this turn's I/O.
    if (waiting) setTimeout(this.tick, 1);
    else setImmediate(this.tick);
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    if (!this.busy()) {
      this.runAll();
      return;
    }
    // Still busy: only the writes that waited their longest go now, not the ones behind them
    // (an old raw-events write must not pull a burst's storage writes ahead of its pushes).
    const overdue = performance.now() - this.maxDelayMs;
    this.runWhile((entry) => entry.since <= overdue);
    if (this.queue.length > 0) this.schedule(true);
  };
}
