/**
 * A small HyperLogLog (Flajolet et al. 2007) with the linear-counting small-range correction of
 * Heule et al. 2013, used by `approxDistinct`.
 *
 * Why not bloom-filters' HyperLogLog (3.0.4): its estimate is far off below a few thousand
 * distinct values (measured with 4096 registers: 100 distinct → 48, 1000 → 492, 2 → 1, and
 * 256 registers after 2 updates → 0) and it has no option to turn on a small-range correction.
 *
 * Registers are a Uint8Array of 2^precision entries (4 KiB at the default precision 12). The
 * register index comes from one 32-bit hash and the rank from a second, independent one, so the
 * sketch sees 32 + precision hash bits and needs no large-range correction below ~2^40 values.
 */

/** Smallest and largest supported precision (16 .. 65536 registers). */
export const MIN_PRECISION = 4;
export const MAX_PRECISION = 16;

/** Relative standard error of the estimate for `precision`: 1.04 / sqrt(2^precision). */
export function hyperLogLogStandardError(precision: number): number {
  return 1.04 / Math.sqrt(2 ** precision);
}

/**
 * Two 32-bit hashes of a string: MurmurHash3-style mixing of UTF-16 code units into two lanes,
 * each finished with murmur's fmix32 and cross-mixed with the other lane (the cyrb53 scheme).
 *
 * @example const [index, rank] = hash32x2('merchant-42');
 */
export function hash32x2(text: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [fmix32(h1 ^ text.length), fmix32(h2 ^ 0x9e3779b9)];
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Empty registers for `precision`. */
export function createRegisters(precision: number): Uint8Array {
  return new Uint8Array(1 << precision);
}

/**
 * Adds one value. Numbers and strings are tagged before hashing, so 1 and '1' count as two
 * values, exactly as `distinctCount` (a Set) does.
 */
export function addToRegisters(registers: Uint8Array, precision: number, value: string | number): void {
  const [indexHash, rankHash] = hash32x2(typeof value === 'number' ? `n${value}` : `s${value}`);
  const index = indexHash >>> (32 - precision);
  // Position of the first 1 bit, counting from 1; an all-zero hash gets 33.
  const rank = Math.clz32(rankHash) + 1;
  if (rank > registers[index]!) registers[index] = rank;
}

/** Register-wise max of `b` into `a`; `b` is left alone. */
export function mergeRegisters(a: Uint8Array, b: Uint8Array): Uint8Array {
  for (let i = 0; i < a.length; i++) if (b[i]! > a[i]!) a[i] = b[i]!;
  return a;
}

/**
 * Estimated number of distinct values, rounded; exactly 0 for empty registers.
 *
 * @example estimateCardinality(registers) // ≈ n, relative standard error 1.04/sqrt(2^p)
 */
export function estimateCardinality(registers: Uint8Array): number {
  const m = registers.length;
  let inverseSum = 0;
  let zeros = 0;
  for (let i = 0; i < m; i++) {
    const r = registers[i]!;
    inverseSum += 2 ** -r;
    if (r === 0) zeros++;
  }
  const alpha = m === 16 ? 0.673 : m === 32 ? 0.697 : m === 64 ? 0.709 : 0.7213 / (1 + 1.079 / m);
  const raw = (alpha * m * m) / inverseSum;
  // Small range: the raw estimator is biased upwards; linear counting on empty registers is
  // near exact while few registers are filled.
  if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
  return Math.round(raw);
}
