import type { DriftBaseline } from '../registry/drift-baseline.ts';

/**
 * Live histograms per event-time bucket over a baseline's bins: one Uint32Array per open bucket
 * holding every histogram's bins back to back (the model's inputs, then the score). Counting a
 * scored micro-batch is one pass over its float32 rows with a binary search per value: no
 * allocation per row (a new bucket allocates its array once).
 */
export interface ClosedBucket {
  start: number;
  end: number;
  rows: number;
  /** All histograms' bins back to back, as in DriftBuckets.offsets. */
  counts: Uint32Array;
}

export class DriftBuckets {
  /** Per histogram: its edges and the index of its first bin in a bucket's counts. */
  readonly edges: Float64Array[];
  readonly offsets: Int32Array;
  readonly totalBins: number;
  private readonly open = new Map<number, { rows: number; counts: Uint32Array }>();
  /** Buckets that start before it are closed: their rows come too late. */
  private closedBefore = -Infinity;

  constructor(
    readonly baseline: DriftBaseline,
    readonly bucketMs: number,
  ) {
    this.edges = baseline.features.map((feature) => Float64Array.from(feature.edges));
    this.offsets = new Int32Array(this.edges.length);
    let bins = 0;
    for (let f = 0; f < this.edges.length; f++) {
      this.offsets[f] = bins;
      bins += this.edges[f]!.length + 1;
    }
    this.totalBins = bins;
  }

  /** Histograms per bucket: the model's inputs (`width` of them) and the score. */
  get inputs(): number {
    return this.edges.length - 1;
  }

  /**
   * Counts `rows` scored rows: `features` holds rows x width model inputs, `scores` one score and
   * `eventTimes` one event time per row. Returns the rows that fell in a closed bucket (not counted).
   */
  observe(features: Float32Array, rows: number, width: number, scores: ArrayLike<number>, eventTimes: ArrayLike<number>): number {
    const inputs = this.inputs;
    if (width !== inputs) return 0;
    const { edges, offsets, bucketMs } = this;
    let late = 0;
    let currentStart = Number.NaN;
    let currentEnd = Number.NaN;
    let counts: Uint32Array | undefined;
    let bucket: { rows: number; counts: Uint32Array } | undefined;
    for (let r = 0; r < rows; r++) {
      const time = eventTimes[r]!;
      // Rows of a micro-batch mostly share one bucket: compare before dividing.
      if (!(time >= currentStart && time < currentEnd)) {
        const start = time - (((time % bucketMs) + bucketMs) % bucketMs);
        currentStart = start;
        currentEnd = start + bucketMs;
        if (start < this.closedBefore) {
          bucket = undefined;
        } else {
          bucket = this.open.get(start);
          if (bucket === undefined) this.open.set(start, (bucket = { rows: 0, counts: new Uint32Array(this.totalBins) }));
        }
        counts = bucket?.counts;
      }
      if (bucket === undefined || counts === undefined) {
        late++;
        continue;
      }
      bucket.rows++;
      const row = r * width;
      for (let f = 0; f < inputs; f++) counts[offsets[f]! + binIndex(edges[f]!, features[row + f]!)]!++;
      counts[offsets[inputs]! + binIndex(edges[inputs]!, scores[r]!)]!++;
    }
    return late;
  }

  /** Closes every open bucket that ends at or before `upTo`, oldest first; later rows for them are late. */
  close(upTo: number): ClosedBucket[] {
    const boundary = upTo - (((upTo % this.bucketMs) + this.bucketMs) % this.bucketMs);
    // Buckets starting before `boundary` end by it.
    if (boundary <= this.closedBefore) return [];
    this.closedBefore = boundary;
    const closed: ClosedBucket[] = [];
    for (const [start, bucket] of this.open) {
      if (start >= boundary) continue;
      this.open.delete(start);
      closed.push({ start, end: start + this.bucketMs, rows: bucket.rows, counts: bucket.counts });
    }
    return closed.sort((a, b) => a.start - b.start);
  }

  /** The end of the earliest open bucket (Infinity when none is open). */
  get earliestOpenEnd(): number {
    let earliest = Infinity;
    for (const start of this.open.keys()) if (start < earliest) earliest = start;
    return earliest + this.bucketMs;
  }

  /** Open buckets (for tests and the dashboard). */
  get openBuckets(): number {
    return this.open.size;
  }
}

/**
 * The bin of `value`: the number of edges below it (binOf in drift-baseline.ts), over a
 * Float64Array only, so the hot loop's call stays monomorphic and inlined. A scan beats a binary
 * search over a handful of edges (10 bins: 115 against 155 ns per 7-histogram row, bench-drift.ts).
 */
function binIndex(edges: Float64Array, value: number): number {
  const n = edges.length;
  if (n <= 16) {
    let i = 0;
    while (i < n && edges[i]! < value) i++;
    return i;
  }
  let low = 0;
  let high = n;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (edges[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
