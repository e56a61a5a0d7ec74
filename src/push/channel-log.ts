/**
 * What a channel remembers of its past: the last items (replay buffer, for clients resuming by
 * sequence number) and the latest item per key (snapshot, for new subscribers). Both are bounded by
 * a count and by the bytes of their frames, which is all an entry holds (not the published
 * object too, which would take about as much heap again); the entries are shared, not copied,
 * between the two and with the pending queues of slow clients.
 */

/** One published item, serialised once. */
export interface LogEntry {
  readonly seq: number;
  readonly key: string | undefined;
  /** The complete data frame sent to clients. */
  readonly frame: string;
  /** UTF-8 length of `frame`, the unit of every buffer bound. */
  readonly bytes: number;
}

/**
 * The item a data frame carries, as its clients see it (parsed back from the frame): what a
 * filtered subscriber's snapshot or replay is matched on. Live publishes match the published
 * object, which has the same top-level scalars.
 */
export function itemOfFrame(entry: LogEntry): unknown {
  return (JSON.parse(entry.frame) as { data?: unknown }).data;
}

/** The last `maxItems` entries (fewer if their frames pass `maxBytes`), in sequence order. */
export class ReplayBuffer {
  private readonly ring: Array<LogEntry | undefined>;
  private start = 0;
  private count = 0;
  private totalBytes = 0;

  constructor(
    readonly maxItems: number,
    readonly maxBytes: number,
  ) {
    this.ring = new Array<LogEntry | undefined>(maxItems);
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Sequence number of the oldest entry held, or undefined when empty. */
  oldestSeq(): number | undefined {
    return this.count === 0 ? undefined : this.ring[this.start]!.seq;
  }

  /** Appends an entry whose seq is one more than the last one's. Keeps at least the newest entry. */
  push(entry: LogEntry): void {
    if (this.count === this.maxItems) this.evictOldest();
    this.ring[(this.start + this.count) % this.maxItems] = entry;
    this.count += 1;
    this.totalBytes += entry.bytes;
    while (this.totalBytes > this.maxBytes && this.count > 1) this.evictOldest();
  }

  /** Entries with seq > `after`, oldest first. Seqs in the buffer are consecutive, so this is a slice. */
  after(after: number): LogEntry[] {
    const oldest = this.oldestSeq();
    if (oldest === undefined) return [];
    const skip = Math.max(0, after + 1 - oldest);
    const result: LogEntry[] = [];
    for (let i = skip; i < this.count; i++) result.push(this.ring[(this.start + i) % this.maxItems]!);
    return result;
  }

  private evictOldest(): void {
    const entry = this.ring[this.start]!;
    this.ring[this.start] = undefined;
    this.start = (this.start + 1) % this.maxItems;
    this.count -= 1;
    this.totalBytes -= entry.bytes;
  }
}

/** The latest entry per key, least recently updated first; past the bounds the stalest keys go. */
export class LatestByKey {
  private readonly entries = new Map<string, LogEntry>();
  private totalBytes = 0;

  constructor(
    readonly maxKeys: number,
    readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  set(key: string, entry: LogEntry): void {
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      // Delete first so the key moves to the end: the Map's order stays "least recently updated first".
      this.entries.delete(key);
      this.totalBytes -= previous.bytes;
    }
    this.entries.set(key, entry);
    this.totalBytes += entry.bytes;
    while ((this.entries.size > this.maxKeys || this.totalBytes > this.maxBytes) && this.entries.size > 1) {
      const [stalest, evicted] = this.entries.entries().next().value as [string, LogEntry];
      this.entries.delete(stalest);
      this.totalBytes -= evicted.bytes;
    }
  }

  /** Every entry, in sequence order (updates move a key to the end, so Map order is seq order). */
  values(): IterableIterator<LogEntry> {
    return this.entries.values();
  }
}
