/** Bounds what one filter may hold, so a subscription costs little memory and matching stays cheap. */
export const FILTER_LIMITS = { maxKeys: 1000, maxKeyLength: 256, maxFields: 16, maxFieldNameLength: 64 } as const;

/** A validated filter, ready to match items without further checks. */
export interface CompiledFilter {
  readonly keys: ReadonlySet<string> | undefined;
  readonly min: ReadonlyArray<readonly [field: string, min: number]>;
  readonly equals: ReadonlyArray<readonly [field: string, value: string | number | boolean | null]>;
}

export type FilterResult = { ok: true; filter: CompiledFilter | undefined } | { ok: false; problem: string };

const FIELD_NAME = /^[A-Za-z0-9_$.-]+$/;

/**
 * Validates a client's `filter` (untrusted JSON). An absent or empty filter compiles to undefined:
 * such a subscription receives everything and can use the fast (uWS topic) path.
 */
export function compileFilter(raw: unknown): FilterResult {
  if (raw === undefined || raw === null) return { ok: true, filter: undefined };
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail('filter must be an object');
  const { keys, min, equals, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return fail(`unknown filter field "${unknown[0]}"; expected keys, min or equals`);

  let keySet: Set<string> | undefined;
  if (keys !== undefined) {
    if (!Array.isArray(keys) || keys.length === 0 || keys.length > FILTER_LIMITS.maxKeys) {
      return fail(`filter.keys must be an array of 1 to ${FILTER_LIMITS.maxKeys} strings`);
    }
    if (!keys.every((key) => typeof key === 'string' && key.length <= FILTER_LIMITS.maxKeyLength)) {
      return fail(`filter.keys must hold strings of at most ${FILTER_LIMITS.maxKeyLength} characters`);
    }
    keySet = new Set(keys as string[]);
  }
  const minEntries = fieldEntries(min, 'min', (value): value is number => typeof value === 'number' && Number.isFinite(value), 'a finite number');
  if (!Array.isArray(minEntries)) return minEntries;
  const equalsEntries = fieldEntries(equals, 'equals', isScalar, 'a string, number, boolean or null');
  if (!Array.isArray(equalsEntries)) return equalsEntries;
  if (minEntries.length + equalsEntries.length > FILTER_LIMITS.maxFields) {
    return fail(`a filter may test at most ${FILTER_LIMITS.maxFields} fields`);
  }
  if (keySet === undefined && minEntries.length === 0 && equalsEntries.length === 0) return { ok: true, filter: undefined };
  return { ok: true, filter: { keys: keySet, min: minEntries, equals: equalsEntries } };
}

/** Whether the filter tests the item's fields (not only its key): matching then needs the item. */
export function testsFields(filter: CompiledFilter): boolean {
  return filter.min.length > 0 || filter.equals.length > 0;
}

/** Whether an item (with its key) passes the filter. Field tests look at top-level fields only. */
export function matchesFilter(filter: CompiledFilter, key: string | undefined, item: unknown): boolean {
  if (filter.keys !== undefined && (key === undefined || !filter.keys.has(key))) return false;
  if (!testsFields(filter)) return true;
  if (typeof item !== 'object' || item === null) return false;
  const record = item as Record<string, unknown>;
  for (const [field, min] of filter.min) {
    const value = record[field];
    if (typeof value !== 'number' || !(value >= min)) return false;
  }
  for (const [field, expected] of filter.equals) {
    if (record[field] !== expected) return false;
  }
  return true;
}

function isScalar(value: unknown): value is string | number | boolean | null {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

function fieldEntries<V>(
  raw: unknown,
  name: string,
  valid: (value: unknown) => value is V,
  expected: string,
): Array<readonly [string, V]> | { ok: false; problem: string } {
  if (raw === undefined) return [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`filter.${name} must be an object of field: value`);
  const entries: Array<readonly [string, V]> = [];
  for (const [field, value] of Object.entries(raw)) {
    if (field.length > FILTER_LIMITS.maxFieldNameLength || !FIELD_NAME.test(field)) return fail(`filter.${name} has an invalid field name`);
    if (!valid(value)) return fail(`filter.${name}.${field} must be ${expected}`);
    entries.push([field, value]);
  }
  return entries;
}

function fail(problem: string): { ok: false; problem: string } {
  return { ok: false, problem };
}
