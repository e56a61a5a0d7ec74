import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { fieldText, type ContractContext, type ContractRule, type FieldsOfType } from './contract-rule.ts';

/*
 * Rule builders for defineContract. Each takes field names checked against the event type (a
 * typo or a field of the wrong type fails to compile) and returns a rule whose test allocates
 * nothing. A rule reads one record at a time; processing time comes from the context, never
 * from Date.now() in the rule, so replays and tests decide what "now" is.
 */

function fieldOf(value: unknown, field: string): unknown {
  return (value as Record<string, unknown>)[field];
}

/**
 * Every field is present: not undefined or null, not NaN, not an empty string.
 *
 * @example required('paymentId', 'cardId')
 */
export function required<T>(...fields: Array<keyof T & string>): ContractRule<T> {
  if (fields.length === 0) throw new ConfigError('contract.required', 'no field given', "name the fields, e.g. required('paymentId', 'cardId')");
  const present = (v: unknown) => v !== undefined && v !== null && v !== '' && !(typeof v === 'number' && Number.isNaN(v));
  return {
    description: `${fields.join(', ')} present`,
    test(value) {
      for (let i = 0; i < fields.length; i++) if (!present(fieldOf(value, fields[i]!))) return false;
      return true;
    },
    offending(value) {
      const missing = fields.find((field) => !present(fieldOf(value, field))) ?? fields[0]!;
      return fieldText(value, missing);
    },
  };
}

/**
 * A finite number within [min, max] (either bound may be left out). NaN and Infinity fail.
 *
 * @example range('amount', { min: 0, max: 1_000_000 })
 */
export function range<T>(field: FieldsOfType<T, number>, bounds: { min?: number; max?: number }): ContractRule<T> {
  const min = bounds.min ?? -Infinity;
  const max = bounds.max ?? Infinity;
  if (Number.isNaN(min) || Number.isNaN(max) || min > max) {
    throw new ConfigError(`contract.range(${field})`, `[${bounds.min}, ${bounds.max}] is not a range`, 'give min <= max, e.g. { min: 0, max: 1000000 }');
  }
  return {
    description: `${field} in [${bounds.min ?? '-inf'}, ${bounds.max ?? 'inf'}]`,
    test(value) {
      const v = fieldOf(value, field);
      return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
    },
    offending: (value) => fieldText(value, field),
  };
}

/**
 * One of a fixed set of values (compared with ===, through a Set).
 *
 * @example oneOf('currency', ['EUR', 'USD', 'GBP'])
 */
export function oneOf<T, K extends keyof T & string>(field: K, values: ReadonlyArray<NonNullable<T[K]>>): ContractRule<T> {
  if (values.length === 0) throw new ConfigError(`contract.oneOf(${field})`, 'the set of values is empty', 'list the values allowed');
  const allowed = new Set<unknown>(values);
  const shown = values.length <= 8 ? values.join(', ') : `${values.slice(0, 8).join(', ')}, ... (${values.length})`;
  return {
    description: `${field} one of ${shown}`,
    test: (value) => allowed.has(fieldOf(value, field)),
    offending: (value) => fieldText(value, field),
  };
}

/**
 * A string that the pattern matches (anchor it: /^...$/). Patterns with the g or y flag keep
 * state between calls, so they are refused.
 *
 * @example matches('cardId', /^card-\d{5}$/)
 */
export function matches<T>(field: FieldsOfType<T, string>, pattern: RegExp): ContractRule<T> {
  if (pattern.global || pattern.sticky) {
    throw new ConfigError(`contract.matches(${field})`, `${pattern} has the g or y flag, which makes test() depend on the previous call`, `drop the flag: /${pattern.source}/${pattern.flags.replace(/[gy]/g, '')}`);
  }
  return {
    description: `${field} matches ${pattern}`,
    test(value) {
      const v = fieldOf(value, field);
      return typeof v === 'string' && pattern.test(v);
    },
    offending: (value) => fieldText(value, field),
  };
}

/**
 * An epoch-millisecond time at most `tolerance` after the batch's processing time (see
 * ContractContext): e.g. a payment's `ts` not more than an hour in the future. Not a wall-clock
 * read per record, so a replay or a test decides what "now" is.
 *
 * @example notInFuture('ts', '1h')
 */
export function notInFuture<T>(field: FieldsOfType<T, number>, tolerance: Duration): ContractRule<T> {
  const toleranceMs = toMillis(tolerance, `contract.notInFuture(${field})`);
  return {
    description: `${field} at most ${typeof tolerance === 'number' ? `${tolerance} ms` : tolerance} after processing time`,
    test(value, context) {
      const v = fieldOf(value, field);
      return typeof v === 'number' && Number.isFinite(v) && v <= context.processingTime + toleranceMs;
    },
    offending: (value) => fieldText(value, field),
  };
}

/**
 * Any condition, usually across fields. `fields` are the values the error text shows when the
 * record fails. A test that throws counts as failed (the record is dead-lettered, not the engine).
 *
 * @example check((p) => CURRENCY_OF[p.country] === undefined || CURRENCY_OF[p.country] === p.currency,
 *   { fields: ['currency', 'country'], description: "currency is the country's" })
 */
export function check<T>(test: (value: T, context: ContractContext) => boolean, options: { fields: Array<keyof T & string>; description: string }): ContractRule<T> {
  if (typeof test !== 'function') throw new ConfigError('contract.check', 'the test is not a function', 'pass (value, context) => boolean');
  return {
    description: options.description,
    test(value, context) {
      try {
        return test(value, context) === true;
      } catch {
        return false;
      }
    },
    offending: (value) => options.fields.map((field) => fieldText(value, field)).join(' '),
  };
}
