/**
 * Quantiles of a histogram's increase since the previous call, per group of its series
 * (interpolated within buckets, as Prometheus' histogram_quantile does). The dashboard's stats
 * read the registry once a second, so none of this runs on the hot path.
 */

type Values = Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;

export interface Quantiles {
  p50: number | null;
  p99: number | null;
}

/** Cumulative bucket counts by upper bound. */
type Buckets = Map<number, number>;

export class IntervalQuantiles {
  private previous = new Map<string, Buckets>();

  /**
   * Per group (`groupOf(labels)`; undefined: the series is left out), p50 and p99 in ms of what
   * was observed since the last call; groups with nothing new are absent.
   */
  async take(histogram: { get(): Promise<{ values: Values }> }, groupOf: (labels: Record<string, string | number>) => string | undefined): Promise<Map<string, Quantiles>> {
    const current = new Map<string, Buckets>();
    for (const { labels, value, metricName } of (await histogram.get()).values) {
      if (!metricName?.endsWith('_bucket')) continue;
      const group = groupOf(labels);
      if (group === undefined) continue;
      let buckets = current.get(group);
      if (buckets === undefined) current.set(group, (buckets = new Map()));
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + value);
    }
    const result = new Map<string, Quantiles>();
    for (const [group, buckets] of current) {
      const before = this.previous.get(group);
      const bounds = [...buckets.keys()].sort((a, b) => a - b);
      const counts = bounds.map((le) => buckets.get(le)! - (before?.get(le) ?? 0));
      const total = counts.at(-1) ?? 0;
      if (total > 0) result.set(group, { p50: quantile(bounds, counts, 0.5), p99: quantile(bounds, counts, 0.99) });
    }
    this.previous = current;
    return result;
  }
}

/** The q-quantile in ms of cumulative `counts` over ascending `bounds` (seconds). */
function quantile(bounds: number[], counts: number[], q: number): number | null {
  const rank = q * counts.at(-1)!;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! < rank) continue;
    const upper = bounds[i]!;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    if (!Number.isFinite(upper)) return lower * 1000;
    const below = i === 0 ? 0 : counts[i - 1]!;
    const inBucket = counts[i]! - below;
    return (lower + (upper - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1)) * 1000;
  }
  return null;
}
