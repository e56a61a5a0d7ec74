/**
 * Distances between a live histogram and its baseline over the same bins.
 *
 * PSI (population stability index): sum over bins of (a - e) * ln(a / e), where a and e are the
 * live and baseline shares of rows in the bin. An empty bin would make that infinite, so both
 * shares are floored at PSI_EPSILON (1e-4, i.e. 0.01% of the rows) first. Rules of thumb: below
 * 0.1 stable, 0.1 to 0.2 a moderate shift, above 0.2 (DRIFT_PSI_THRESHOLD) a significant one.
 *
 * KS: the largest gap between the two cumulative shares at a bin boundary (the two-sample
 * Kolmogorov-Smirnov statistic of the binned data, which is at most the statistic of the raw
 * values). Unfloored shares. Both are NaN when either histogram is empty.
 */

export const PSI_EPSILON = 1e-4;

/** PSI above this means significant drift (the alert threshold). */
export const DRIFT_PSI_THRESHOLD = 0.2;

function total(counts: ArrayLike<number>, from = 0, length = counts.length - from): number {
  let sum = 0;
  for (let i = from; i < from + length; i++) sum += counts[i]!;
  return sum;
}

/**
 * PSI of `actual` against `expected` (equal lengths). `offset` and `length` select a slice of
 * `actual` (the engine keeps every feature's bins in one array).
 */
export function populationStabilityIndex(actual: ArrayLike<number>, expected: ArrayLike<number>, offset = 0, length = expected.length): number {
  const actualTotal = total(actual, offset, length);
  const expectedTotal = total(expected, 0, length);
  if (actualTotal === 0 || expectedTotal === 0) return Number.NaN;
  let psi = 0;
  for (let i = 0; i < length; i++) {
    const a = Math.max(actual[offset + i]! / actualTotal, PSI_EPSILON);
    const e = Math.max(expected[i]! / expectedTotal, PSI_EPSILON);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/** The binned Kolmogorov-Smirnov distance of `actual` (a slice, as above) and `expected`. */
export function binnedKsDistance(actual: ArrayLike<number>, expected: ArrayLike<number>, offset = 0, length = expected.length): number {
  const actualTotal = total(actual, offset, length);
  const expectedTotal = total(expected, 0, length);
  if (actualTotal === 0 || expectedTotal === 0) return Number.NaN;
  let actualCumulative = 0;
  let expectedCumulative = 0;
  let distance = 0;
  for (let i = 0; i < length; i++) {
    actualCumulative += actual[offset + i]!;
    expectedCumulative += expected[i]!;
    distance = Math.max(distance, Math.abs(actualCumulative / actualTotal - expectedCumulative / expectedTotal));
  }
  return distance;
}
