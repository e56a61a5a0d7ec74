import type { ResolvedPolicy } from './policies.ts';

type Generalizing = Extract<ResolvedPolicy, { kind: 'bucket' | 'significant' | 'prefix' | 'truncate' }>;

/**
 * A generalization applied to one value. Numbers round toward zero (to a bucket's lower bound,
 * to N significant digits, to a time unit); text keeps a prefix. A value the generalization
 * cannot read (a string where a number belongs) becomes null: nothing passes unmasked.
 */
export function generalizer(policy: Generalizing): (value: unknown) => unknown {
  switch (policy.kind) {
    case 'bucket': {
      const width = policy.width;
      return (value) => (isNumber(value) ? clean(Math.floor(clean(value / width)) * width) : nullish(value));
    }
    case 'significant': {
      const digits = policy.digits;
      return (value) => (isNumber(value) ? significant(value, digits) : nullish(value));
    }
    case 'prefix': {
      const length = policy.length;
      return (value) => (value === null || value === undefined ? value : String(value).slice(0, length));
    }
    case 'truncate': {
      const unit = policy.unitMs;
      return (value) => (isNumber(value) ? Math.floor(value / unit) * unit : nullish(value));
    }
  }
}

/** `value` cut (toward zero) to `digits` significant digits: 31337.77 → 31000 with 2. */
export function significant(value: number, digits: number): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  const factor = 10 ** (Math.floor(Math.log10(Math.abs(value))) - digits + 1);
  return clean(Math.trunc(clean(value / factor)) * factor);
}

/** Float noise off (0.29 / 0.01 is 28.999999999999996): 12 significant digits are plenty. */
function clean(value: number): number {
  return Number(value.toPrecision(12));
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function nullish(value: unknown): null | undefined {
  return value === undefined ? undefined : null;
}
