/**
 * Aggregations: an accumulator created per key and window, updated per record, read once when
 * the window closes. Accumulators are plain numbers where possible, so a count/sum/max window
 * costs a few numbers per key.
 */
export interface Aggregation<T, A, R> {
  init(): A;
  add(accumulator: A, value: T, eventTime: number): A;
  result(accumulator: A): R;
}

/** Number of records. */
export function count<T = unknown>(): Aggregation<T, number, number> {
  return { init: () => 0, add: (n) => n + 1, result: (n) => n };
}

/** Sum of `select(value)`. */
export function sum<T>(select: (value: T) => number): Aggregation<T, number, number> {
  return { init: () => 0, add: (total, value) => total + select(value), result: (total) => total };
}

/** Smallest `select(value)`; null for a window without records (cannot happen for emitted windows). */
export function min<T>(select: (value: T) => number): Aggregation<T, number, number> {
  return { init: () => Infinity, add: (least, value) => Math.min(least, select(value)), result: (least) => least };
}

/** Largest `select(value)`. */
export function max<T>(select: (value: T) => number): Aggregation<T, number, number> {
  return { init: () => -Infinity, add: (most, value) => Math.max(most, select(value)), result: (most) => most };
}

/** Arithmetic mean of `select(value)`. */
export function avg<T>(select: (value: T) => number): Aggregation<T, { sum: number; count: number }, number> {
  return {
    init: () => ({ sum: 0, count: 0 }),
    add: (acc, value) => {
      acc.sum += select(value);
      acc.count++;
      return acc;
    },
    result: (acc) => (acc.count === 0 ? NaN : acc.sum / acc.count),
  };
}

/** The value with the greatest event time (the later arrival wins a tie). */
export function last<T, R>(select: (value: T) => R): Aggregation<T, { value: R | undefined; time: number }, R | undefined> {
  return {
    init: () => ({ value: undefined, time: -Infinity }),
    add: (acc, value, eventTime) => {
      if (eventTime >= acc.time) {
        acc.value = select(value);
        acc.time = eventTime;
      }
      return acc;
    },
    result: (acc) => acc.value,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AggregationMap<T> = Record<string, Aggregation<T, any, any>>;

/** The result object of an aggregation map: `{ n: count() }` gives `{ n: number }`. */
export type AggregateResult<T, M extends AggregationMap<T>> = { [K in keyof M]: M[K] extends Aggregation<T, infer _A, infer R> ? R : never };
