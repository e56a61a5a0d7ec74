/**
 * A value as UTF-8 JSON bytes (bigints as decimal strings), or null when it has none (undefined,
 * a cycle): the `raw` of a dead letter whose original bytes are not at hand.
 */
export function jsonBytes(value: unknown): Uint8Array | null {
  try {
    const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return text === undefined ? null : new TextEncoder().encode(text);
  } catch {
    return null; // a cycle: the error message still says what was rejected
  }
}
