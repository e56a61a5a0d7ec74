/**
 * What a rule may look at besides the record: the batch's processing time, read once per batch
 * from the source's clock (Date.now() for Kafka, the generator's simulated clock for the demo).
 * Sources without a clock (a backfill's replay of stored events, runOnArray) give the batch's
 * largest event time instead, so a replay never rejects a stored event for being old: rules
 * relative to processing time are judged when the record first arrives, not again later.
 */
export interface ContractContext {
  /** Epoch milliseconds. */
  readonly processingTime: number;
}

/**
 * One typed rule of a data contract. `test` runs once per record in a tight loop and must not
 * allocate; `offending` runs only for a record that failed and says which value broke the rule,
 * short (values are cut, see shortValue), for the dead letter's error text.
 */
export interface ContractRule<T> {
  /** What the rule requires, e.g. 'amount in [0, 1000000]'. */
  readonly description: string;
  /** True when the value passes the rule. */
  test(value: T, context: ContractContext): boolean;
  /** The value that broke it, e.g. 'amount=-5' or 'currency="XXX"'. */
  offending(value: T): string;
}

/** The keys of T whose values are of type V (required or optional). */
export type FieldsOfType<T, V> = { [K in keyof T]-?: NonNullable<T[K]> extends V ? K : never }[keyof T] & string;

/** Longest value text a dead letter or quarantine row shows: enough to recognise, never a whole payload. */
export const MAX_VALUE_CHARS = 48;

/**
 * A value as short text for an error message: strings quoted and cut to MAX_VALUE_CHARS, numbers
 * as written, a missing value as <missing>. Dead letters are read by people and stored; a long
 * field (or a secret someone put in one) must not land there whole.
 */
export function shortValue(value: unknown): string {
  if (value === undefined) return '<missing>';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const cut = value.length > MAX_VALUE_CHARS ? `${value.slice(0, MAX_VALUE_CHARS)}…` : value;
    return JSON.stringify(cut);
  }
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return `<${Array.isArray(value) ? 'array' : typeof value}>`;
}

/** 'field=value' for an error message. */
export function fieldText(record: unknown, field: string): string {
  const value = typeof record === 'object' && record !== null ? (record as Record<string, unknown>)[field] : undefined;
  return `${field}=${shortValue(value)}`;
}
