import { accumulatorsFromState, accumulatorsToState, type Aggregation } from './aggregations.ts';

/**
 * Per-key accumulators in checkpoint form, column-wise: the keys in their order, and the
 * accumulators either as one Float64Array (the common case: every accumulator is a number, as
 * for count/sum/min/max) or as one array per key. v8 serializes a Float64Array as one block,
 * several times faster than a Map of small arrays.
 */
export interface KeyedAccumulators {
  keys: string[];
  /** keys.length × width numbers, key-major; null when some accumulator is not a number. */
  numbers: Float64Array | null;
  values: unknown[][] | null;
}

export function encodeKeyedAccumulators<T>(aggs: readonly Aggregation<T, unknown, unknown>[], states: ReadonlyMap<string, unknown[]>): KeyedAccumulators {
  const keys = [...states.keys()];
  const width = aggs.length;
  const numbers = new Float64Array(keys.length * width);
  let k = 0;
  for (const state of states.values()) {
    for (let i = 0; i < width; i++) {
      const value = state[i];
      if (typeof value !== 'number') return { keys, numbers: null, values: [...states.values()].map((s) => accumulatorsToState(aggs, s)) };
      numbers[k * width + i] = value;
    }
    k++;
  }
  return { keys, numbers, values: null };
}

/** The per-key accumulators again, in the saved key order (which is the output order). */
export function decodeKeyedAccumulators<T>(aggs: readonly Aggregation<T, unknown, unknown>[], saved: KeyedAccumulators): Map<string, unknown[]> {
  const states = new Map<string, unknown[]>();
  const width = aggs.length;
  for (let k = 0; k < saved.keys.length; k++) {
    if (saved.numbers !== null) {
      // A plain copy loop: Array.from over a subarray is ~40x slower for small widths.
      const state = new Array<unknown>(width);
      for (let i = 0; i < width; i++) state[i] = saved.numbers[k * width + i];
      states.set(saved.keys[k]!, state);
    }
    else states.set(saved.keys[k]!, accumulatorsFromState(aggs, saved.values![k]!));
  }
  return states;
}
