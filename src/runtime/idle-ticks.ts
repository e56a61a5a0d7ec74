/**
 * With an idle timeout, queues a tick every min(1 s, timeout / 2) so idleness is re-evaluated
 * even when nothing arrives. Ticks go through the in-flight buffer, not a timer callback: the
 * process loop then applies them in order after the batches fetched before, and only when the
 * sinks have room (closing windows writes rows). At most one tick waits in the buffer.
 */
export class IdleTicks {
  private timer: NodeJS.Timeout | null = null;
  private queued = false;

  /**
   * `enqueue` puts a tick into the buffer; `accepting` says whether the engine still takes them
   * (not while stopping or after the end of a bounded input).
   */
  constructor(idleTimeoutMs: number, enqueue: () => void, accepting: () => boolean) {
    if (idleTimeoutMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.queued || !accepting()) return;
      this.queued = true;
      enqueue();
    }, Math.max(10, Math.min(1_000, idleTimeoutMs / 2)));
    this.timer.unref();
  }

  /** The loop took the queued tick: the next one may be queued. */
  taken(): void {
    this.queued = false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
