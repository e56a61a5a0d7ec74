/**
 * Outcome metrics written out for the tests, independently of src/ (neither the SQL of
 * src/registry/outcomes-sql.ts nor src/scoring/classification-metrics.ts): plain loops.
 */
export interface Scored {
  score: number;
  label: 0 | 1;
}

export interface ReferenceOutcome {
  rows: number;
  positives: number;
  auc: number | null;
  logLoss: number;
  ece: number;
  precisionAtK: number;
  k: number;
}

/** AUC by counting pairs: each (positive, negative) pair scores 1 when the positive is higher, 1/2 when tied. */
export function pairwiseAuc(rows: readonly Scored[]): number | null {
  const positives = rows.filter((r) => r.label === 1).map((r) => r.score).sort((a, b) => a - b);
  const negatives = rows.filter((r) => r.label === 0).map((r) => r.score).sort((a, b) => a - b);
  if (positives.length === 0 || negatives.length === 0) return null;
  // For each positive: negatives strictly below (two pointers over both sorted lists) plus half the ties.
  let wins = 0;
  let below = 0;
  let upTo = 0;
  for (const p of positives) {
    while (below < negatives.length && negatives[below]! < p) below++;
    upTo = Math.max(upTo, below);
    while (upTo < negatives.length && negatives[upTo]! <= p) upTo++;
    wins += below + (upTo - below) / 2;
  }
  return wins / (positives.length * negatives.length);
}

export function referenceOutcome(rows: readonly Scored[], k: number): ReferenceOutcome {
  const n = rows.length;
  const positives = rows.reduce((s, r) => s + r.label, 0);
  let loss = 0;
  for (const { score, label } of rows) {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, score));
    loss += label === 1 ? -Math.log(p) : -Math.log(1 - p);
  }
  // ECE: ten bins of width 0.1 (a score of 1 in the last), weighted |mean score - positive share|.
  const sums = new Array<number>(10).fill(0);
  const hits = new Array<number>(10).fill(0);
  const counts = new Array<number>(10).fill(0);
  for (const { score, label } of rows) {
    const b = Math.min(9, Math.floor(score * 10));
    sums[b]! += score;
    hits[b]! += label;
    counts[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < 10; b++) if (counts[b]! > 0) ece += (counts[b]! / n) * Math.abs(sums[b]! / counts[b]! - hits[b]! / counts[b]!);
  // Precision at k: sorted by score, highest first; the group tied with the k-th score counts in proportion.
  const kk = Math.min(k, n);
  const sorted = [...rows].sort((a, b) => b.score - a.score);
  const kth = sorted[kk - 1]!.score;
  const above = sorted.filter((r) => r.score > kth);
  const tied = sorted.filter((r) => r.score === kth);
  const tiedPositives = tied.reduce((s, r) => s + r.label, 0);
  const precision = (above.reduce((s, r) => s + r.label, 0) + ((kk - above.length) * tiedPositives) / tied.length) / kk;
  return { rows: n, positives, auc: pairwiseAuc(rows), logLoss: loss / n, ece, precisionAtK: precision, k: kk };
}

/** Whether two metric values agree to `relative` (sums in another order differ in the last bits). */
export function close(actual: number | null, expected: number | null, relative = 1e-12): boolean {
  if (actual === null || expected === null) return actual === expected;
  return Math.abs(actual - expected) <= relative * Math.max(1, Math.abs(expected));
}
