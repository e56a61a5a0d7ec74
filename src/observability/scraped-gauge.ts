import { Gauge, type GaugeConfiguration } from 'prom-client';

/** Sets the gauge's current values; called on every scrape. */
export type GaugeReporter<L extends string> = (gauge: Gauge<L>) => void;

/**
 * A gauge computed when scraped instead of set on the hot path: each component that owns the
 * state (a Kafka source's partitions, a sink's buffer, the clock) registers a reporter, and a
 * scrape clears the gauge and asks every reporter for its current values. So label sets of
 * revoked partitions or closed sinks disappear, and time-based values (lags, ages) are as of the
 * scrape, not of the last batch.
 */
export class ScrapedGauge<L extends string> extends Gauge<L> {
  private readonly reporters: Set<GaugeReporter<L>>;

  constructor(config: Omit<GaugeConfiguration<L>, 'collect'>) {
    const reporters = new Set<GaugeReporter<L>>();
    super({
      ...config,
      collect() {
        this.reset();
        for (const report of reporters) report(this);
      },
    });
    this.reporters = reporters;
  }

  /** Adds a reporter; the returned function removes it (with its values, from the next scrape). */
  report(reporter: GaugeReporter<L>): () => void {
    this.reporters.add(reporter);
    return () => {
      this.reporters.delete(reporter);
    };
  }
}
