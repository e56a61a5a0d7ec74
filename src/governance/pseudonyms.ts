import { hmac128 } from './crypto.ts';
import { BoundedCache } from './bounded-cache.ts';

/** `h<key version>_<22 base64url characters>`: what 'hash' makes of a value. */
const PSEUDONYM = /^h(\d{1,4})_[A-Za-z0-9_-]{22}$/;

/**
 * Keyed hashes (HMAC-SHA256 under the managed key, truncated to 128 bits): the same input gives
 * the same pseudonym in every table, key and frame, so joins, grouping and window keys keep
 * working, while nobody without the key can test a guessed card number against it. The key's
 * version is part of the text, so a rotated key never silently mixes with the old one.
 *
 * Idempotent: a value that already is a pseudonym under this key version is returned as it is,
 * so rows read back from a protected table (a backfill) are not hashed twice.
 */
export class Pseudonymizer {
  private readonly prefix: string;
  private readonly length: number;
  private readonly cache: BoundedCache<string>;

  constructor(
    private readonly key: Buffer,
    readonly version: number,
    cacheEntries = 100_000,
  ) {
    this.prefix = `h${version}_`;
    this.length = this.prefix.length + 22;
    this.cache = new BoundedCache(cacheEntries);
  }

  /** The pseudonym of a string or number (numbers as their decimal text). */
  hash(value: string | number | bigint | boolean): string {
    const text = typeof value === 'string' ? value : String(value);
    if (text.length === this.length && this.isPseudonym(text)) return text;
    let hashed = this.cache.get(text, 0);
    if (hashed === undefined) {
      hashed = this.prefix + hmac128(this.key, text);
      this.cache.set(text, hashed, 0);
    }
    return hashed;
  }

  /** Whether `text` is a pseudonym made under this key version. */
  isPseudonym(text: string): boolean {
    return text.startsWith(this.prefix) && PSEUDONYM.test(text);
  }
}
