import type { HistogramSeries } from '../observability/batch-histogram.ts';
import type { Metrics } from '../observability/metrics.ts';

/**
 * One sink's metrics, observed once per written chunk: rows, batch size, write latency, errors
 * and, when the rows carry an event time, end-to-end latency per row. Nothing without metrics.
 */
export class SinkReport<T> {
  private readonly labels: { topology: string; sink: string };
  /** End-to-end latency series (with metrics and an event time per row). */
  private readonly latency: HistogramSeries | undefined;

  constructor(
    private readonly metrics: Metrics | undefined,
    topology: string,
    sink: string,
    private readonly eventTimeOf: ((row: T) => number) | undefined,
  ) {
    this.labels = { topology, sink };
    this.latency = eventTimeOf && metrics?.endToEndLatency.labels(this.labels);
  }

  /** A chunk the destination acknowledged, after `seconds`. */
  written(rows: readonly T[], seconds: number): void {
    const metrics = this.metrics;
    if (!metrics) return;
    metrics.sinkFlushSeconds.observe(this.labels, seconds);
    metrics.sinkRows.inc(this.labels, rows.length);
    metrics.sinkBatchRows.observe(this.labels, rows.length);
    if (this.latency) this.latency.observeSecondsSince(rows, this.eventTimeOf!, Date.now());
  }

  failed(): void {
    this.metrics?.sinkErrors.inc(this.labels);
  }

  /** Reports `bufferedRows()` as tributary_sink_buffered_rows when scraped; returns the unregister. */
  reportBuffered(bufferedRows: () => number): (() => void) | undefined {
    return this.metrics?.sinkBufferedRows.report((gauge) => gauge.set(this.labels, bufferedRows()));
  }
}
