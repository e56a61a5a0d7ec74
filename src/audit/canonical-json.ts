import { createHash } from 'node:crypto';

/**
 * The canonical serialization the audit chain hashes (README "Audit trail"): JSON without
 * whitespace, object keys sorted by UTF-16 code units (JavaScript's default sort), members whose
 * value is undefined left out, strings and numbers exactly as JSON.stringify writes them (so a
 * number's text is ECMAScript's shortest round-trip form). Only what JSON.parse gives back can be
 * serialized: plain objects, arrays, strings, finite numbers, booleans and null. So parsing a
 * canonical line and serializing it again gives the same bytes, which `audit verify` checks.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON has no ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
      const object = value as Record<string, unknown>;
      const members: string[] = [];
      for (const key of Object.keys(object).sort()) {
        if (object[key] !== undefined) members.push(`${JSON.stringify(key)}:${canonicalJson(object[key])}`);
      }
      return `{${members.join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON has no ${typeof value}`);
  }
}

/**
 * `value` as JSON.parse would give it back: Dates become ISO strings, bigints decimal strings,
 * NaN and Infinity null, undefined members and functions are dropped (what JSON.stringify does).
 * Applied to every event before it is hashed, so what is hashed is what a reader parses.
 */
export function plainJson(value: unknown): unknown {
  if (value === undefined) return undefined;
  return JSON.parse(JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item)) ?? 'null');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
