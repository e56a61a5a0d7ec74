import type { WindowSpec } from './window-spec.ts';

/**
 * Ends in (`after`, `limit`] of the windows that hold a slice in `slices` (keyed by slice
 * start), ascending. Every window end is a multiple of the stagger step (of the hop when
 * aligned), and a watermark mostly moves a few ms a batch: looking at the few ends it can reach
 * costs less than looking at every open slice (staggered: one per phase and hop). A jump past
 * more ends than there are slices (the first batch, a long idle) looks at the slices instead.
 */
export function windowEndsBetween(spec: WindowSpec, slices: ReadonlyMap<number, unknown>, after: number, limit: number): number[] {
  const { hopMs, sizeMs, staggerMs } = spec;
  const step = staggerMs > 0 ? staggerMs : hopMs;
  const first = Math.floor(after / step) * step + step;
  const possible = Number.isFinite(first) ? Math.floor((limit - first) / step) + 1 : Infinity;
  if (possible <= slices.size) {
    const ends: number[] = [];
    for (let end = first; end <= limit; end += step) {
      for (let start = end - sizeMs; start < end; start += hopMs) {
        if (slices.has(start)) {
          ends.push(end);
          break;
        }
      }
    }
    return ends;
  }
  const found = new Set<number>();
  for (const start of slices.keys()) {
    const last = Math.min(start + sizeMs, limit);
    for (let end = start + hopMs; end <= last; end += hopMs) if (end > after) found.add(end);
  }
  return [...found].sort((a, b) => a - b);
}
