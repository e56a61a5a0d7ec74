import { ConfigError } from '../core/errors.ts';

/**
 * A model version's drift baseline: for each model input and for the score, fixed bins cut at
 * the training data's quantiles and how many training rows fell in each. The engine counts live
 * rows into the same bins per time bucket and compares the two histograms (drift-statistics.ts).
 *
 * Bins: `edges` are the distinct deciles (by default) of the training values; a value v falls in
 * bin i = the number of edges below v, so bin 0 is (-inf, e0], bin i is (e(i-1), e(i)] and the
 * last is (e(last), +inf). Repeated deciles (a count that is 1 for most rows) collapse, so a
 * feature may have fewer than 10 bins. Values are rounded to float32 first, as the engine holds
 * model inputs and scores as float32, so a training value on an edge bins the same way online.
 */
export interface DriftBaseline {
  /** Training rows the histograms count. */
  rows: number;
  /** The model's inputs in order (FeatureSet.featureNames), then the score (SCORE_FEATURE). */
  features: BaselineHistogram[];
}

export interface BaselineHistogram {
  name: string;
  /** Ascending, distinct: bin i is (edges[i-1], edges[i]]. */
  edges: number[];
  /** edges.length + 1 counts. */
  counts: number[];
}

/** The name of the score's histogram in a baseline and in the drift table. */
export const SCORE_FEATURE = 'score';

/** Bins per feature before equal deciles collapse. */
export const DEFAULT_BASELINE_BINS = 10;

/** Number of edges strictly below `value` (binary search): the bin of `value`. */
export function binOf(edges: ArrayLike<number>, value: number): number {
  let low = 0;
  let high = edges.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (edges[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** One histogram over `values` (any order): edges at the quantiles i / bins, duplicates removed. */
export function histogramOf(name: string, values: ArrayLike<number>, bins = DEFAULT_BASELINE_BINS): BaselineHistogram {
  const n = values.length;
  const sorted = new Float64Array(n);
  for (let i = 0; i < n; i++) sorted[i] = Math.fround(values[i]!);
  sorted.sort();
  const edges: number[] = [];
  for (let i = 1; i < bins && n > 0; i++) {
    // The lower quantile: the smallest value with at least i / bins of the rows at or below it.
    const edge = sorted[Math.min(n - 1, Math.max(0, Math.ceil((i * n) / bins) - 1))]!;
    if (edges.length === 0 || edge > edges[edges.length - 1]!) edges.push(edge);
  }
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < n; i++) counts[binOf(edges, sorted[i]!)]!++;
  return { name, edges, counts };
}

/**
 * The baseline of a model trained on `vectors` (one model input per row, in `featureNames`
 * order) whose scores on those rows are `scores`.
 */
export function computeBaseline(featureNames: readonly string[], vectors: ArrayLike<ArrayLike<number>>, scores: ArrayLike<number>, bins = DEFAULT_BASELINE_BINS): DriftBaseline {
  const rows = vectors.length;
  if (scores.length !== rows) throw new ConfigError('baseline scores', `${scores.length} scores for ${rows} rows`, 'score every training row once');
  if (!(Number.isInteger(bins) && bins >= 2 && bins <= 1000)) throw new ConfigError('baseline bins', `${bins} is not a number of bins`, 'use a whole number from 2 to 1000 (default 10)');
  const column = new Float64Array(rows);
  const features = featureNames.map((name, j) => {
    for (let i = 0; i < rows; i++) column[i] = vectors[i]![j]!;
    return histogramOf(name, column, bins);
  });
  features.push(histogramOf(SCORE_FEATURE, scores, bins));
  return { rows, features };
}

/**
 * Checks that `baseline` fits a model with inputs `featureNames`: the same names in order, then
 * the score, each with ascending edges and one count more than edges. Returns a problem, or
 * undefined when it fits.
 */
export function baselineProblem(baseline: DriftBaseline, featureNames: readonly string[]): string | undefined {
  const expected = [...featureNames, SCORE_FEATURE];
  const names = baseline.features.map((f) => f.name);
  if (names.join('\u0000') !== expected.join('\u0000')) return `its histograms are ${names.join(', ')}, not ${expected.join(', ')}`;
  for (const feature of baseline.features) {
    if (feature.counts.length !== feature.edges.length + 1) return `${feature.name} has ${feature.edges.length} edges but ${feature.counts.length} counts`;
    for (let i = 1; i < feature.edges.length; i++) if (!(feature.edges[i]! > feature.edges[i - 1]!)) return `${feature.name}'s edges are not ascending`;
    if (!feature.counts.every((c) => Number.isSafeInteger(c) && c >= 0)) return `${feature.name} has a count that is not a whole number`;
  }
  return undefined;
}
