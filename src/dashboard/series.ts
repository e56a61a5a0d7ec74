/** A fixed-length time series for a chart: the newest `capacity` points, as uPlot's column arrays. */
export class Series {
  readonly times: number[] = [];
  readonly columns: Array<Array<number | null>>;

  constructor(
    columns: number,
    private readonly capacity = 300,
  ) {
    this.columns = Array.from({ length: columns }, () => []);
  }

  push(timeSeconds: number, values: ReadonlyArray<number | null>): void {
    this.times.push(timeSeconds);
    values.forEach((value, i) => this.columns[i]!.push(value));
    if (this.times.length > this.capacity) {
      this.times.shift();
      for (const column of this.columns) column.shift();
    }
  }

  get length(): number {
    return this.times.length;
  }

  /** uPlot's data layout: x values, then one array per series. */
  data(): [number[], ...Array<Array<number | null>>] {
    return [this.times, ...this.columns];
  }
}

/** Counts of probabilities in `bins` equal bins over [0, 1]. */
export function histogram(values: readonly number[], bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const value of values) counts[Math.min(bins - 1, Math.max(0, Math.floor(value * bins)))]!++;
  return counts;
}
