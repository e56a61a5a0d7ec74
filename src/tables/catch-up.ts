/**
 * Tracks how far a table's reader has got in each partition against the end offsets the topic
 * had when the reader started. The table is "caught up" once every partition's next fetch
 * offset reached that end: it then holds every update written before the start, so records
 * processed afterwards are enriched deterministically.
 *
 * Positions come from the offsets of applied records and from fetch progress (a fetch may end
 * on records a reader never sees, such as transaction markers).
 */
export class CatchUp {
  /** Partitions still behind: partition → [next offset to read, end offset to reach]. */
  private readonly behind = new Map<number, { position: bigint; target: bigint }>();
  private resolveDone!: () => void;
  /** Resolves once every partition reached its end offset (at once if the topic was empty). */
  readonly done: Promise<void>;
  /** Date.now() of the last advance, for stall detection. */
  lastProgressAt = Date.now();

  constructor(ends: ReadonlyArray<{ partition: number; low: string; high: string }>) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    for (const { partition, low, high } of ends) {
      const position = BigInt(low);
      const target = BigInt(high);
      if (position < target) this.behind.set(partition, { position, target });
    }
    if (this.behind.size === 0) this.resolveDone();
  }

  get caughtUp(): boolean {
    return this.behind.size === 0;
  }

  /** The reader will next fetch `nextOffset` from `partition`. */
  advance(partition: number, nextOffset: bigint): void {
    const state = this.behind.get(partition);
    if (state === undefined) return;
    this.lastProgressAt = Date.now();
    if (nextOffset > state.position) state.position = nextOffset;
    if (state.position < state.target) return;
    this.behind.delete(partition);
    if (this.behind.size === 0) this.resolveDone();
  }

  /** The partitions still behind, for error messages and logs. */
  lagging(): Array<{ partition: number; position: string; end: string }> {
    return [...this.behind].map(([partition, { position, target }]) => ({ partition, position: position.toString(), end: target.toString() }));
  }
}
