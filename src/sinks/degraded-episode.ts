import type { Metrics } from '../observability/metrics.ts';

/**
 * An online-state sink's time degraded (its store unreachable): the 0/1 gauge
 * tributary_state_degraded and the seconds counter, advanced as the episode goes on so a long
 * outage shows up before it ends.
 */
export class DegradedEpisode {
  /** performance.now() when the episode began; null while healthy. */
  private since: number | null = null;
  private accounted = 0;

  constructor(
    private readonly metrics: Metrics,
    private readonly labels: { topology: string; store: string },
  ) {}

  get active(): boolean {
    return this.since !== null;
  }

  begin(): void {
    this.since = this.accounted = performance.now();
    this.metrics.stateDegraded.set(this.labels, 1);
  }

  /** Adds the time since the last call to tributary_state_degraded_seconds_total. */
  account(now = performance.now()): void {
    if (this.since === null) return;
    this.metrics.stateDegradedSeconds.inc(this.labels, (now - this.accounted) / 1000);
    this.accounted = now;
  }

  /** Ends the episode; returns how long it lasted, in seconds. */
  end(): number {
    this.account();
    const seconds = (performance.now() - this.since!) / 1000;
    this.since = null;
    this.metrics.stateDegraded.set(this.labels, 0);
    return seconds;
  }
}
