/**
 * A mergeable Misra-Gries summary (Agarwal et al., "Mergeable Summaries", 2012), used by `topK`.
 *
 * `counts` holds at most `capacity` counters, each a lower bound of its item's true count;
 * `offset` is the total amount ever subtracted from every counter. For every item (counted or
 * not) `count ≤ true ≤ count + offset`, and `offset ≤ (N − Σcounts) / (capacity + 1)`, which is
 * below N / capacity for N records. Reporting `count + offset` therefore gives an overestimate
 * that is at most N / (capacity + 1) too high (the SpaceSaving view of the same summary). With at
 * most `capacity` distinct items nothing is ever subtracted and every count is exact.
 */
export interface FrequentItems {
  counts: Map<string, number>;
  offset: number;
}

export function createFrequentItems(): FrequentItems {
  return { counts: new Map(), offset: 0 };
}

/** Counts one occurrence of `item`; amortised O(1) (each decrement pass removes capacity + 1 units). */
export function addItem(summary: FrequentItems, item: string, capacity: number): FrequentItems {
  const { counts } = summary;
  const current = counts.get(item);
  if (current !== undefined) counts.set(item, current + 1);
  else if (counts.size < capacity) counts.set(item, 1);
  else {
    // No room: the new item's unit and one unit of every counter cancel out (capacity + 1 units).
    for (const [other, c] of counts) {
      if (c === 1) counts.delete(other);
      else counts.set(other, c - 1);
    }
    summary.offset += 1;
  }
  return summary;
}

/** Adds `b`'s counters to `a`, then trims `a` back to `capacity` counters; `b` is left alone. */
export function mergeFrequentItems(a: FrequentItems, b: FrequentItems, capacity: number): FrequentItems {
  for (const [item, c] of b.counts) a.counts.set(item, (a.counts.get(item) ?? 0) + c);
  a.offset += b.offset;
  if (a.counts.size > capacity) {
    // Subtract the (capacity + 1)-th largest counter from all: at least capacity + 1 counters
    // lose that much, so the error bound above still holds, and at most capacity stay positive.
    const threshold = [...a.counts.values()].sort((x, y) => y - x)[capacity]!;
    for (const [item, c] of a.counts) {
      if (c <= threshold) a.counts.delete(item);
      else a.counts.set(item, c - threshold);
    }
    a.offset += threshold;
  }
  return a;
}

/** Up to `k` items by estimated count (an upper bound) descending, then item ascending. */
export function topItems(summary: FrequentItems, k: number): Array<{ item: string; count: number }> {
  return [...summary.counts]
    .map(([item, c]) => ({ item, count: c + summary.offset }))
    .sort((x, y) => y.count - x.count || (x.item < y.item ? -1 : x.item > y.item ? 1 : 0))
    .slice(0, k);
}
