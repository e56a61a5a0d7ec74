import { UsageError } from '../../core/errors.ts';
import { SecureUniform, type UniformSource } from './secure-random.ts';

/**
 * Exact discrete Laplace noise (Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for
 * Differential Privacy", Algorithms 1 and 2): P(Z = z) ∝ exp(-|z| / scale) for the rational
 * scale = numerator / denominator. Only integer arithmetic and uniform integers from a CSPRNG:
 * no floating-point Laplace, whose low bits leak the true value (Mironov 2012).
 */

/** Largest numerator or denominator of a scale: u + t·v stays below 2^53 (v >= 512 has probability e^-512). */
export const MAX_SCALE_TERM = 2 ** 44;

/** Bernoulli(num / den), 0 <= num <= den. */
export function bernoulli(source: UniformSource, num: number, den: number): boolean {
  if (Number.isSafeInteger(den)) return source.below(den) < num;
  return source.belowBig(BigInt(den)) < BigInt(num);
}

/** Bernoulli(exp(-num / den)) for integers num >= 0, den >= 1 (Algorithm 1). */
export function bernoulliExpMinus(source: UniformSource, num: number, den: number): boolean {
  if (num <= den) {
    // Counts K until Bernoulli(γ / K) fails: P(K odd) = exp(-γ) for γ in [0, 1].
    let k = 1;
    for (;;) {
      const product = den * k;
      const accepted = Number.isSafeInteger(product) ? source.below(product) < num : source.belowBig(BigInt(den) * BigInt(k)) < BigInt(num);
      if (!accepted) break;
      k++;
    }
    return k % 2 === 1;
  }
  const whole = Math.floor(num / den);
  for (let i = 0; i < whole; i++) if (!bernoulliExpMinus(source, 1, 1)) return false;
  return bernoulliExpMinus(source, num - whole * den, den);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Draws discrete Laplace noise of one scale. */
export class DiscreteLaplace {
  private readonly t: number;
  private readonly s: number;

  /** scale = numerator / denominator, both positive integers up to MAX_SCALE_TERM. */
  constructor(
    numerator: number,
    denominator: number,
    private readonly source: UniformSource = new SecureUniform(),
  ) {
    for (const [name, value] of [['numerator', numerator], ['denominator', denominator]] as const) {
      if (!Number.isSafeInteger(value) || value < 1 || value > MAX_SCALE_TERM) throw new UsageError(`discrete Laplace scale ${name} ${value} is not a whole number in [1, 2^44]`);
    }
    const divisor = gcd(numerator, denominator);
    this.t = numerator / divisor;
    this.s = denominator / divisor;
  }

  /** One draw (Algorithm 2 with t/s the scale). */
  sample(): number {
    const { t, s, source } = this;
    for (;;) {
      const u = t === 1 ? 0 : source.below(t);
      if (!bernoulliExpMinus(source, u, t)) continue;
      let v = 0;
      while (bernoulliExpMinus(source, 1, 1)) v++;
      // x is Geometric(1 - exp(-1/t)); y = floor(x / s) is Geometric(1 - exp(-s/t)).
      const x = u + t * v;
      const y = Math.floor(x / s);
      const negative = source.below(2) === 1;
      if (negative && y === 0) continue;
      return negative ? -y : y;
    }
  }

  /** `count` draws into a new array. */
  sampleMany(count: number): number[] {
    const out: number[] = new Array<number>(count);
    for (let i = 0; i < count; i++) out[i] = this.sample();
    return out;
  }
}
