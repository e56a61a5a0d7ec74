import { keyHash } from '../../core/key-hash.ts';

/**
 * The phase of a key's staggered windows: they start at the phase plus a multiple of the hop, so
 * the windows of many keys do not all end (and close) on one watermark. The phase is the key's
 * stable hash (FNV-1a, core/key-hash.ts) modulo hop/step, times the step: the same on every
 * process, in backfills and across restarts. 0 when `staggerMs` is 0 (aligned windows).
 */
export function staggerPhase(key: string, hopMs: number, staggerMs: number): number {
  return staggerMs === 0 ? 0 : (keyHash(key) % (hopMs / staggerMs)) * staggerMs;
}
