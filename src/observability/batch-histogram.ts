import type { Metric, Registry } from 'prom-client';

interface RenderedValue {
  metricName: string;
  labels: Record<string, string | number>;
  sharedLabels: Readonly<Record<string, string>>;
  value: number;
}

export interface BatchHistogramConfig<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** Upper bounds, ascending; +Inf is implied. */
  buckets: readonly number[];
  registers: Registry[];
}

/**
 * The bins of one label set. Get it once (`BatchHistogram.series`) and feed it whole batches:
 * binning a row is a compare loop over a Float64Array, no allocation and no label lookup.
 */
export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  private readonly bounds: readonly number[];

  constructor(bounds: readonly number[], labels: Readonly<Record<string, string>>) {
    this.bounds = bounds;
    this.labels = labels;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    this.counts[this.bucketOf(value)]!++;
    this.sum += value;
    this.count++;
  }

  /** `times` observations of one value (the rows of a batch that share a latency), in one step. */
  observeMany(value: number, times: number): void {
    if (!Number.isFinite(value) || times <= 0) return;
    this.counts[this.bucketOf(value)]! += times;
    this.sum += value * times;
    this.count += times;
  }

  /** The first bound >= value (binary search: ~4 compares for 16 buckets); bounds.length: above all. */
  private bucketOf(value: number): number {
    const bounds = this.bounds;
    let low = 0;
    let high = bounds.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (value > bounds[mid]!) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /**
   * Observes, for every row, the seconds from `timeOf(row)` (epoch ms) to `nowMs`: end-to-end
   * latencies of a batch that was just acknowledged. Times in the future count as 0.
   */
  observeSecondsSince<T>(rows: readonly T[], timeOf: (row: T) => number, nowMs: number): void {
    for (let i = 0; i < rows.length; i++) {
      const ms = nowMs - timeOf(rows[i]!);
      this.observe(ms > 0 ? ms / 1000 : 0);
    }
  }
}

/**
 * A Prometheus histogram fed a batch at a time. prom-client's Histogram.observe validates and
 * hashes the labels on every call, which costs more per row than the work being measured; this
 * one bins rows into plain arrays (HistogramSeries) and renders the standard _bucket/_sum/_count
 * series when scraped. It registers through the registry's metric interface (get/reset), so it
 * renders and resets like prom-client's own metrics.
 */
export class BatchHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly labelNames: readonly L[];
  private readonly buckets: readonly number[];
  private readonly series = new Map<string, HistogramSeries>();

  constructor(config: BatchHistogramConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    this.buckets = [...config.buckets].sort((a, b) => a - b);
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric<string>);
  }

  /** The series of `labels` (created empty, so it is exported with zero counts from now on). */
  labels(labels: Readonly<Record<L, string>>): HistogramSeries {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let series = this.series.get(key);
    if (series === undefined) {
      const own: Record<string, string> = {};
      for (const name of this.labelNames) own[name] = labels[name];
      series = new HistogramSeries(this.buckets, own);
      this.series.set(key, series);
    }
    return series;
  }

  reset(): void {
    this.series.clear();
  }

  /** As prom-client's get(): each value's labels include the series' labels. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: RenderedValue[] }> {
    const data = await this.getForPromString();
    return { ...data, values: data.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels }, sharedLabels: {} })) };
  }

  /**
   * What the registry renders: cumulative buckets with `le`, then _sum and _count, per series;
   * the series' labels go in `sharedLabels`, as prom-client's Histogram does, so the text is the same.
   */
  async getForPromString(): Promise<{ name: string; help: string; type: string; aggregator: string; values: RenderedValue[] }> {
    const values: RenderedValue[] = [];
    for (const series of this.series.values()) {
      const shared = series.labels;
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += series.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: this.buckets[i]! }, sharedLabels: shared, value: cumulative });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, sharedLabels: shared, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels: {}, sharedLabels: shared, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: {}, sharedLabels: shared, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
