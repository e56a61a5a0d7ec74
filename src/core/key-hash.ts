/**
 * A stable 32-bit hash of a key: FNV-1a over its UTF-16 code units. The same on every process,
 * instance and Node version, with no allocation, for decisions that must not move a key between
 * restarts (a canary's share of the keys, a staggered window's phase).
 */
export function keyHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
