import { SqlQueryError } from '../sql-errors.ts';
import { DiscreteLaplace, MAX_SCALE_TERM } from './discrete-laplace.ts';
import type { CheckedDpQuery } from './dp-query.ts';
import { dpParts } from './dp-sql.ts';

/** One group's true aggregates, as the generated statement returns them. */
export interface TrueGroup {
  key: string;
  /** Rows after sampling (at most k per subject). */
  n: number;
  /** Sum of clamped whole units. */
  total: number;
}

/** A discrete Laplace scale as an exact fraction (numerator / denominator). */
export interface NoiseScale {
  numerator: number;
  denominator: number;
  value: number;
}

/** How a query's answers are noised: public, returned with them. */
export interface DpPlan {
  count?: NoiseScale;
  sum?: NoiseScale;
  /** Groups not declared public: released when the noisy count is at least this. */
  threshold?: number;
  delta?: number;
}

/**
 * Noise calibrated to the enforced bounds. One subject adds or removes at most k rows (the
 * LIMIT k BY of the generated SQL), so at most k across all counts (L1) and k·max(|lower|,
 * |upper|) units across all sums. ε is split evenly between the parts a query releases; the
 * discrete Laplace mechanism with scale Δ / ε_part is ε_part-DP, and the parts compose.
 */
export function dpPlan(query: CheckedDpQuery, delta: number): DpPlan {
  const parts = dpParts(query);
  const shares = (parts.count ? 1 : 0) + (parts.sum ? 1 : 0);
  const k = query.rowsPerSubject;
  const plan: DpPlan = {};
  if (parts.count) plan.count = scale(k, shares, query.microEpsilon);
  if (parts.sum) plan.sum = scale(k * Math.max(Math.abs(query.lowerUnits), Math.abs(query.upperUnits), 1), shares, query.microEpsilon);
  if (query.groupBy !== undefined && query.groups === undefined) {
    // A group that only one subject holds has a true count <= k: it passes k + m with
    // probability P(Z >= m) = q^m / (1 + q), and that subject reaches at most k groups.
    const q = Math.exp(-1 / plan.count!.value);
    const perGroup = delta / k;
    const m = Math.max(1, Math.ceil(Math.log(perGroup * (1 + q)) / Math.log(q)));
    plan.threshold = k + m;
    plan.delta = delta;
  }
  return plan;
}

/** Δ / (ε / shares) as a reduced fraction of whole numbers (ε counted in millionths). */
function scale(sensitivity: number, shares: number, microEpsilon: number): NoiseScale {
  const numerator = sensitivity * 1_000_000 * shares;
  const divisor = gcd(numerator, microEpsilon);
  const result = { numerator: numerator / divisor, denominator: microEpsilon / divisor, value: numerator / microEpsilon };
  if (result.numerator > MAX_SCALE_TERM || result.denominator > MAX_SCALE_TERM) {
    throw new SqlQueryError('BAD_REQUEST', 'DP query: the bounds, rowsPerSubject and epsilon give a noise scale too large to sample exactly: narrow the bounds or use a coarser step');
  }
  return result;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export interface DpRow {
  key: string;
  count?: number;
  sum?: number;
  avg?: number | null;
}

/** The released rows: true aggregates plus fresh noise, groups filtered as the plan says. */
export function releaseDp(query: CheckedDpQuery, plan: DpPlan, truth: readonly TrueGroup[]): DpRow[] {
  const countNoise = plan.count && new DiscreteLaplace(plan.count.numerator, plan.count.denominator);
  const sumNoise = plan.sum && new DiscreteLaplace(plan.sum.numerator, plan.sum.denominator);
  const byKey = new Map(truth.map((group) => [group.key, group]));
  let keys: string[];
  if (query.aggregate === 'histogram') keys = Array.from({ length: query.bins }, (_, i) => String(i));
  else if (query.groupBy === undefined) keys = [''];
  else if (query.groups !== undefined) keys = query.groups;
  else keys = [...byKey.keys()].sort();
  const rows: DpRow[] = [];
  for (const key of keys) {
    const group = byKey.get(key) ?? { key, n: 0, total: 0 };
    const count = countNoise ? group.n + countNoise.sample() : undefined;
    if (plan.threshold !== undefined && (count === undefined || count < plan.threshold)) continue;
    const sumUnits = sumNoise ? group.total + sumNoise.sample() : undefined;
    const label = query.aggregate === 'histogram' ? String((query.lowerUnits + Number(key)) * query.step) : key;
    const row: DpRow = { key: label };
    if (query.aggregate !== 'sum' && count !== undefined) row.count = count;
    if (sumUnits !== undefined && query.aggregate !== 'avg') row.sum = sumUnits * query.step;
    if (query.aggregate === 'avg') row.avg = (sumUnits! * query.step) / Math.max(1, count!);
    rows.push(row);
  }
  return rows;
}
