import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Holds a replay to at most `eventsPerSecond` (`tributary backfill --max-rate`): after each batch
 * it waits until the batch's share of time has passed. After a slow stretch (the engine busy) it
 * may catch up by at most `burstMs` worth of events, so the rate stays near the limit, not just
 * its average since the start. The limit bounds what the backfill asks of ClickHouse, whose
 * server does that work at its own priority, not at the job's nice 19.
 */
export class ReplayPacer {
  private next: number | undefined;

  constructor(
    private readonly eventsPerSecond: number,
    private readonly burstMs = 1_000,
    private readonly now: () => number = () => performance.now(),
    private readonly wait: (ms: number, signal: AbortSignal) => Promise<unknown> = (ms, signal) => sleep(ms, undefined, { signal }),
  ) {}

  /** Call after handing `count` events on; resolves when the next batch may go (at once when aborted). */
  async handed(count: number, signal: AbortSignal): Promise<void> {
    const now = this.now();
    this.next = Math.max(this.next ?? now, now - this.burstMs) + (count / this.eventsPerSecond) * 1_000;
    const delay = this.next - now;
    if (delay <= 0 || signal.aborted) return;
    await this.wait(delay, signal).catch(() => {}); // aborted: the replay is stopping
  }
}
