/**
 * Aggregations: an accumulator created per key and slice of a window, updated per record,
 * combined with `merge` when a hopping window spans several slices, read once when the window
 * closes. Accumulators are plain numbers or one small object, so a count/sum/max window costs a
 * few numbers per key.
 */
export interface Aggregation<T, A, R> {
  init(): A;
  add(accumulator: A, value: T, eventTime: number): A;
  /**
   * Combines two partial accumulators of the same key; `a` covers earlier event times than `b`.
   * May update and return `a`; never modifies `b` (a slice's accumulator is merged into several
   * windows). `merge(init(), x)` must give the same result as `x`.
   */
  merge(a: A, b: A): A;
  result(accumulator: A): R;
  /**
   * For durable window state: turns an accumulator that is not plain data (a class instance)
   * into data `v8.serialize` keeps, and back. Omit both when the accumulator is plain data.
   */
  toState?(accumulator: A): unknown;
  fromState?(state: unknown): A;
}

/** Accumulators as checkpointable data (see Aggregation.toState). Returns `states` itself when no aggregation needs converting. */
export function accumulatorsToState<T>(aggs: readonly Aggregation<T, unknown, unknown>[], states: unknown[]): unknown[] {
  let converted: unknown[] | null = null;
  for (let i = 0; i < aggs.length; i++) {
    const toState = aggs[i]!.toState;
    if (toState === undefined) continue;
    converted ??= states.slice();
    converted[i] = toState(states[i]);
  }
  return converted ?? states;
}

/** The inverse of accumulatorsToState, in place. */
export function accumulatorsFromState<T>(aggs: readonly Aggregation<T, unknown, unknown>[], states: unknown[]): unknown[] {
  for (let i = 0; i < aggs.length; i++) {
    const fromState = aggs[i]!.fromState;
    if (fromState !== undefined) states[i] = fromState(states[i]);
  }
  return states;
}

/**
 * Number of records.
 *
 * @example aggregate({ n: count() })
 */
export function count<T = unknown>(): Aggregation<T, number, number> {
  return { init: () => 0, add: (n) => n + 1, merge: (a, b) => a + b, result: (n) => n };
}

/**
 * Sum of `select(value)`. Merged sums add partial sums, so sums of non-integers can differ from
 * a record-by-record sum in the last bits (floating-point addition is not associative).
 *
 * @example aggregate({ total: sum((p: Payment) => p.amount) })
 */
export function sum<T>(select: (value: T) => number): Aggregation<T, number, number> {
  return { init: () => 0, add: (total, value) => total + select(value), merge: (a, b) => a + b, result: (total) => total };
}

/**
 * Smallest `select(value)`.
 *
 * @example aggregate({ lowest: min((p: Payment) => p.amount) })
 */
export function min<T>(select: (value: T) => number): Aggregation<T, number, number> {
  return { init: () => Infinity, add: (least, value) => Math.min(least, select(value)), merge: (a, b) => Math.min(a, b), result: (least) => least };
}

/**
 * Largest `select(value)`.
 *
 * @example aggregate({ highest: max((p: Payment) => p.amount) })
 */
export function max<T>(select: (value: T) => number): Aggregation<T, number, number> {
  return { init: () => -Infinity, add: (most, value) => Math.max(most, select(value)), merge: (a, b) => Math.max(a, b), result: (most) => most };
}

export interface MeanAccumulator {
  sum: number;
  count: number;
}

/**
 * Arithmetic mean of `select(value)`; NaN for no records (cannot happen for emitted windows).
 *
 * @example aggregate({ mean: avg((p: Payment) => p.amount) })
 */
export function avg<T>(select: (value: T) => number): Aggregation<T, MeanAccumulator, number> {
  return {
    init: () => ({ sum: 0, count: 0 }),
    add: (acc, value) => {
      acc.sum += select(value);
      acc.count++;
      return acc;
    },
    merge: (a, b) => {
      a.sum += b.sum;
      a.count += b.count;
      return a;
    },
    result: (acc) => (acc.count === 0 ? NaN : acc.sum / acc.count),
  };
}

export interface TimedValue<R> {
  value: R | undefined;
  time: number;
}

/**
 * The value with the greatest event time (the later arrival wins a tie; in a merge, `b` wins).
 *
 * @example aggregate({ lastMerchant: last((p: Payment) => p.merchantId) })
 */
export function last<T, R>(select: (value: T) => R): Aggregation<T, TimedValue<R>, R | undefined> {
  return {
    init: () => ({ value: undefined, time: -Infinity }),
    add: (acc, value, eventTime) => {
      if (eventTime >= acc.time) {
        acc.value = select(value);
        acc.time = eventTime;
      }
      return acc;
    },
    merge: (a, b) => {
      if (b.time >= a.time) {
        a.value = b.value;
        a.time = b.time;
      }
      return a;
    },
    result: (acc) => acc.value,
  };
}

/**
 * The value with the smallest event time (the earlier arrival wins a tie; in a merge, `a` wins).
 *
 * @example aggregate({ firstMerchant: first((p: Payment) => p.merchantId) })
 */
export function first<T, R>(select: (value: T) => R): Aggregation<T, TimedValue<R>, R | undefined> {
  return {
    init: () => ({ value: undefined, time: Infinity }),
    add: (acc, value, eventTime) => {
      if (eventTime < acc.time) {
        acc.value = select(value);
        acc.time = eventTime;
      }
      return acc;
    },
    merge: (a, b) => {
      if (b.time < a.time) {
        a.value = b.value;
        a.time = b.time;
      }
      return a;
    },
    result: (acc) => acc.value,
  };
}

/** Count, mean and sum of squared deviations from the mean (Welford). */
export interface MomentsAccumulator {
  n: number;
  mean: number;
  m2: number;
}

/**
 * Population standard deviation of `select(value)` (0 for one value, NaN for none). Updated with
 * Welford's method and merged with Chan et al.'s parallel formula, so it stays accurate for
 * values with a large mean.
 *
 * @example aggregate({ spread: stddev((p: Payment) => p.amount) })
 */
export function stddev<T>(select: (value: T) => number): Aggregation<T, MomentsAccumulator, number> {
  return {
    init: () => ({ n: 0, mean: 0, m2: 0 }),
    add: (acc, value) => {
      const x = select(value);
      const n = ++acc.n;
      const delta = x - acc.mean;
      acc.mean += delta / n;
      acc.m2 += delta * (x - acc.mean);
      return acc;
    },
    merge: (a, b) => {
      if (b.n === 0) return a;
      if (a.n === 0) {
        a.n = b.n;
        a.mean = b.mean;
        a.m2 = b.m2;
        return a;
      }
      const n = a.n + b.n;
      const delta = b.mean - a.mean;
      a.m2 += b.m2 + ((delta * delta * a.n) / n) * b.n;
      a.mean += (delta * b.n) / n;
      a.n = n;
      return a;
    },
    result: (acc) => (acc.n === 0 ? NaN : Math.sqrt(Math.max(0, acc.m2) / acc.n)),
  };
}

/**
 * Number of distinct `select(value)` (compared with SameValueZero, as a Set does). Exact: it
 * keeps every distinct value of a key's slice in memory, so memory grows with the number of
 * distinct values; a HyperLogLog sketch can replace it where an estimate is enough.
 *
 * @example aggregate({ merchants: distinctCount((p: Payment) => p.merchantId) })
 */
export function distinctCount<T>(select: (value: T) => string | number): Aggregation<T, Set<string | number>, number> {
  return {
    init: () => new Set(),
    add: (seen, value) => seen.add(select(value)),
    merge: (a, b) => {
      for (const value of b) a.add(value);
      return a;
    },
    result: (seen) => seen.size,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AggregationMap<T> = Record<string, Aggregation<T, any, any>>;

/** The result object of an aggregation map: `{ n: count() }` gives `{ n: number }`. */
export type AggregateResult<T, M extends AggregationMap<T>> = { [K in keyof M]: M[K] extends Aggregation<T, infer _A, infer R> ? R : never };
