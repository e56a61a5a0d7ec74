/**
 * Reproducible synthetic classification data for tests, benchmarks and demo training: rows of
 * normally distributed features whose labels follow a known logistic model.
 */

/** mulberry32: a tiny seeded PRNG, so tests and benchmarks see the same data on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A standard normal sample (Box-Muller). */
export function gaussian(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(0) would be -Infinity
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export interface SyntheticData {
  x: number[][];
  y: number[];
}

/**
 * Rows whose feature j is offset[j] + spread[j] * N(0, 1) and whose label is 1 with probability
 * sigmoid(bias + sum_j weights[j] * (x_j - offset[j]) / spread[j]). Large weights make the
 * classes nearly separable.
 */
export function syntheticClassification(options: {
  rows: number;
  weights: readonly number[];
  bias?: number;
  offset?: readonly number[];
  spread?: readonly number[];
  seed?: number;
}): SyntheticData {
  const random = seededRandom(options.seed ?? 1);
  const width = options.weights.length;
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < options.rows; i++) {
    const row = new Array<number>(width);
    let margin = options.bias ?? 0;
    for (let j = 0; j < width; j++) {
      const standard = gaussian(random);
      row[j] = (options.offset?.[j] ?? 0) + (options.spread?.[j] ?? 1) * standard;
      margin += options.weights[j]! * standard;
    }
    x.push(row);
    y.push(random() < 1 / (1 + Math.exp(-margin)) ? 1 : 0);
  }
  return { x, y };
}
