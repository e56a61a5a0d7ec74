/**
 * 32-bit FNV-1a of a key's UTF-16 code units, written out here with BigInt from the algorithm's
 * definition (offset basis 2166136261, prime 16777619), independent of src/core/key-hash.ts.
 */
export function referenceKeyHash(key: string): number {
  let hash = 2166136261n;
  for (let i = 0; i < key.length; i++) hash = ((hash ^ BigInt(key.charCodeAt(i))) * 16777619n) % 4294967296n;
  return Number(hash);
}
