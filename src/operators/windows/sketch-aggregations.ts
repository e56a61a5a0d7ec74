/**
 * Approximate, mergeable aggregations for windows: quantiles (DDSketch), distinct counts
 * (HyperLogLog) and heavy hitters (Misra-Gries). Each keeps a bounded summary per key and slice
 * instead of every value, and `merge` never modifies its second argument, so they work in
 * tumbling, hopping (slices merged into several windows), session and sliding windows.
 */
import { DDSketch } from '@datadog/sketches-js';
import { ConfigError } from '../../core/errors.ts';
import type { Aggregation } from './aggregations.ts';
import { addToRegisters, createRegisters, estimateCardinality, MAX_PRECISION, mergeRegisters, MIN_PRECISION } from './sketch-hyperloglog.ts';
import { addItem, createFrequentItems, mergeFrequentItems, topItems, type FrequentItems } from './sketch-frequent-items.ts';

export { hyperLogLogStandardError } from './sketch-hyperloglog.ts';
export type { FrequentItems } from './sketch-frequent-items.ts';

export interface QuantilesOptions {
  /** Relative accuracy α of every reported quantile, in (0, 1); default 0.01 (1 %). */
  relativeAccuracy?: number;
}

/**
 * Result key of a quantile: 0.5 → 'p50', 0.99 → 'p99', 0.999 → 'p99.9', 1 → 'p100'.
 *
 * @example quantileKey(0.999) // 'p99.9'
 */
export function quantileKey(q: number): string {
  return `p${Number((q * 100).toPrecision(12))}`;
}

/**
 * Approximate quantiles of `select(value)` with a DDSketch. For each q the result is within
 * relative accuracy α of the ⌊q·(n−1)⌋-th smallest value (0-based): |reported − true| ≤ α·|true|,
 * for values of any sign whose magnitude is between ~1e-308 and ~1e308 (smaller magnitudes count
 * as 0, which is reported exactly). Non-finite values are skipped. Merged sketches give exactly
 * the answers of one sketch over all values. Memory: one counter per occupied log bucket
 * (~ ln(max/min) / (2α) buckets; about 700 for values spanning 1e-3..1e3 at α = 0.01).
 * Every quantile is NaN for a window without values.
 *
 * @example aggregate({ latency: quantiles((r: Request) => r.ms, [0.5, 0.99, 0.999]) })
 * // → { latency: { p50: 12.1, p99: 240.3, 'p99.9': 1010.2 } }
 */
export function quantiles<T>(select: (value: T) => number, qs: readonly number[], options: QuantilesOptions = {}): Aggregation<T, DDSketch, Record<string, number>> {
  const relativeAccuracy = options.relativeAccuracy ?? 0.01;
  if (!(relativeAccuracy > 0 && relativeAccuracy < 1)) {
    throw new ConfigError('quantiles.relativeAccuracy', `${relativeAccuracy} is not between 0 and 1 (exclusive)`, 'pass e.g. 0.01 for 1 % relative accuracy');
  }
  if (qs.length === 0) throw new ConfigError('quantiles.qs', 'no quantiles were given', 'pass e.g. [0.5, 0.99]');
  const keys = new Map<string, number>();
  for (const q of qs) {
    if (!(typeof q === 'number' && q >= 0 && q <= 1)) {
      throw new ConfigError('quantiles.qs', `${String(q)} is not a number between 0 and 1`, 'write quantiles as fractions, e.g. 0.99 for p99');
    }
    const key = quantileKey(q);
    if (keys.has(key)) throw new ConfigError('quantiles.qs', `${q} is given twice (both named ${key})`, 'list each quantile once');
    keys.set(key, q);
  }
  return {
    init: () => new DDSketch({ relativeAccuracy }),
    add: (sketch, value) => {
      const x = select(value);
      if (Number.isFinite(x)) sketch.accept(x);
      return sketch;
    },
    merge: mergeSketches,
    result: (sketch) => {
      const out: Record<string, number> = {};
      for (const [key, q] of keys) out[key] = sketch.getValueAtQuantile(q);
      return out;
    },
    toState: sketchToState,
    fromState: (state) => sketchFromState(state as SketchState, relativeAccuracy),
  };
}

/** A DenseStore's fields exactly: the bin layout (offset, min/max key) decides later merges. */
interface StoreState {
  bins: number[];
  count: number;
  minKey: number;
  maxKey: number;
  offset: number;
}

/**
 * Checkpointed form of a DDSketch. Not toProto/fromProto: fromProto drops min, max and sum,
 * recounts through `add` and re-lays out the bins, so a restored sketch would differ from the
 * one it came from; this keeps every field.
 */
export interface SketchState {
  relativeAccuracy: number;
  positive: StoreState;
  negative: StoreState;
  zeroCount: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

function sketchToState(sketch: DDSketch): SketchState {
  const store = ({ bins, count, minKey, maxKey, offset }: DDSketch['store']): StoreState => ({ bins, count, minKey, maxKey, offset });
  const { zeroCount, count, sum, min, max } = sketch;
  return { relativeAccuracy: sketch.mapping.relativeAccuracy, positive: store(sketch.store), negative: store(sketch.negativeStore), zeroCount, count, sum, min, max };
}

function sketchFromState(state: SketchState, relativeAccuracy: number): DDSketch {
  if (state.relativeAccuracy !== relativeAccuracy) {
    throw new ConfigError('quantiles.relativeAccuracy', `the checkpointed sketches use ${state.relativeAccuracy}, this topology ${relativeAccuracy}: their bins do not mix`, 'keep the relative accuracy, or give the step a new name so it starts empty');
  }
  const sketch = new DDSketch({ relativeAccuracy });
  Object.assign(sketch.store, state.positive);
  Object.assign(sketch.negativeStore, state.negative);
  const { zeroCount, count, sum, min, max } = state;
  Object.assign(sketch, { zeroCount, count, sum, min, max });
  return sketch;
}

/**
 * `b` into `a`, leaving `b` alone. Not DDSketch#merge: in @datadog/sketches-js 2.1.1 it merges
 * only the store of positive values and silently drops `b`'s negative values (while still
 * adding their count). Bins are added key by key (mergeStore); `_copy` copies b's arrays.
 */
/**
 * `from`'s bins into `into`, key by key. Not DenseStore#merge: in 2.1.1 it extends its range with
 * `_extendRange(from.minKey, from.maxKey)`, which reads a maxKey of 0 (the bin of values near 1)
 * as "absent" and drops that bin (merge([0.1], [1, 0.1]) lost the 1). `add` extends correctly.
 */
function mergeStore(into: DDSketch['store'], from: DDSketch['store']): void {
  if (from.count === 0) return;
  for (let key = from.minKey; key <= from.maxKey; key++) {
    const count = from.bins[key - from.offset];
    if (count) into.add(key, count);
  }
}

function mergeSketches(a: DDSketch, b: DDSketch): DDSketch {
  if (b.count === 0) return a;
  if (a.count === 0) {
    a._copy(b);
    return a;
  }
  mergeStore(a.store, b.store);
  mergeStore(a.negativeStore, b.negativeStore);
  a.zeroCount += b.zeroCount;
  a.count += b.count;
  a.sum += b.sum;
  a.min = Math.min(a.min, b.min);
  a.max = Math.max(a.max, b.max);
  return a;
}

export interface ApproxDistinctOptions {
  /** log2 of the number of registers, an integer from 4 to 16; default 12 (4096 registers, 4 KiB). */
  precision?: number;
}

/**
 * Approximate number of distinct `select(value)` with a HyperLogLog: 0 for no values; relative
 * standard error 1.04 / sqrt(2^precision) (1.6 % at the default precision 12). Small sets use
 * linear counting, much tighter: standard error sqrt(m(e^t − t − 1)) for m registers and
 * t = n/m, about n / sqrt(2m) — at precision 12 measured ±1 up to 100 distinct values and ±6 at
 * 300; a handful of values is usually exact (≤ 10 in the tests). 1 and '1' are
 * different values, as in `distinctCount`. Memory: 2^precision bytes per key and slice, however
 * many values — use `distinctCount` when sets are small and must be exact.
 *
 * @example aggregate({ cards: approxDistinct((p: Payment) => p.cardId) })
 */
export function approxDistinct<T>(select: (value: T) => string | number, options: ApproxDistinctOptions = {}): Aggregation<T, Uint8Array, number> {
  const precision = options.precision ?? 12;
  if (!(Number.isInteger(precision) && precision >= MIN_PRECISION && precision <= MAX_PRECISION)) {
    throw new ConfigError('approxDistinct.precision', `${precision} is not an integer from ${MIN_PRECISION} to ${MAX_PRECISION}`, 'pass e.g. 12 (1.6 % standard error, 4 KiB per key and slice)');
  }
  return {
    init: () => createRegisters(precision),
    add: (registers, value) => {
      addToRegisters(registers, precision, select(value));
      return registers;
    },
    merge: mergeRegisters,
    result: estimateCardinality,
    // Registers are plain data; a deserialized one is a view into the whole checkpoint buffer, so
    // copy it rather than keep that buffer alive for as long as the window is open.
    fromState: (state) => {
      const registers = state as Uint8Array;
      if (registers.length !== 1 << precision) {
        throw new ConfigError('approxDistinct.precision', `the checkpointed registers have precision ${Math.log2(registers.length)}, this topology ${precision}`, 'keep the precision, or give the step a new name so it starts empty');
      }
      return registers.slice();
    },
  };
}

export interface TopKOptions {
  /** Counters kept per key and slice, an integer ≥ k; default 10·k. */
  capacity?: number;
}

/**
 * The `k` most frequent `select(value)` (numbers become strings), by count descending, then item
 * ascending, from a mergeable Misra-Gries summary with `capacity` counters. Exact when a window
 * holds at most `capacity` distinct items. Otherwise each reported count is an overestimate by at
 * most N / (capacity + 1) for N values in the window (still true after merges), every item more
 * frequent than that is among the counters, and the true top k are reported whenever the k-th
 * and (k+1)-th true counts differ by more than N / (capacity + 1).
 *
 * @example aggregate({ merchants: topK((p: Payment) => p.merchantId, 3) })
 * // → { merchants: [{ item: 'm-7', count: 41 }, { item: 'm-2', count: 17 }, { item: 'm-9', count: 17 }] }
 */
export function topK<T>(select: (value: T) => string | number, k: number, options: TopKOptions = {}): Aggregation<T, FrequentItems, Array<{ item: string; count: number }>> {
  if (!(Number.isInteger(k) && k >= 1)) throw new ConfigError('topK.k', `${k} is not a positive integer`, 'pass how many items to report, e.g. 10');
  const capacity = options.capacity ?? 10 * k;
  if (!(Number.isInteger(capacity) && capacity >= k)) {
    throw new ConfigError('topK.capacity', `${capacity} is not an integer of at least k = ${k}`, `leave it out (10·k = ${10 * k}) or pass a larger integer`);
  }
  return {
    init: createFrequentItems,
    add: (summary, value) => addItem(summary, String(select(value)), capacity),
    merge: (a, b) => mergeFrequentItems(a, b, capacity),
    result: (summary) => topItems(summary, k),
  };
}
