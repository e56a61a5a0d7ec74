/**
 * Quality measures for binary classifiers: ROC AUC by the rank statistic (Mann-Whitney U) with
 * tied scores given their average rank, log loss and accuracy.
 */

/**
 * Area under the ROC curve: the probability that a random positive scores above a random
 * negative, ties counting one half. NaN when either class is absent. O(n log n).
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new RangeError(`rocAuc: ${n} scores but ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let positiveRankSum = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && scores[order[end]!] === scores[order[start]!]) end++;
    // Ranks start..end-1 (1-based: start+1..end) share their average.
    const averageRank = (start + 1 + end) / 2;
    for (let i = start; i < end; i++) {
      if (labels[order[i]!] === 1) {
        positives++;
        positiveRankSum += averageRank;
      }
    }
    start = end;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean negative log-likelihood; probabilities are clipped to [1e-15, 1 - 1e-15] so one confident miss stays finite. */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = probabilities.length;
  if (n === 0) return Number.NaN;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, probabilities[i]!));
    total -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return total / n;
}

/** Share of rows where (probability >= threshold) matches the label. */
export function accuracy(probabilities: ArrayLike<number>, labels: ArrayLike<number>, threshold = 0.5): number {
  const n = probabilities.length;
  if (n === 0) return Number.NaN;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    if ((probabilities[i]! >= threshold ? 1 : 0) === labels[i]) correct++;
  }
  return correct / n;
}
