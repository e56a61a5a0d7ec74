/**
 * A bounded FIFO of source batches between fetching and processing, counted in records. A push
 * that would exceed the bound waits (the caller keeps its consumer alive meanwhile); a batch
 * larger than the whole bound is admitted alone into an empty buffer, so progress is always
 * possible. Sources split their fetches into chunks below the bound.
 */
export class InFlightBuffer<T extends { size: number }> {
  private readonly items: T[] = [];
  private head = 0;
  private count = 0;
  private peak = 0;
  private spaceWaiters: Array<() => void> = [];
  private itemWaiter: (() => void) | null = null;
  private closed = false;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Records queued or being processed. */
  get size(): number {
    return this.count;
  }

  /** The largest `size` ever seen (for tests and metrics). */
  get highWaterMark(): number {
    return this.peak;
  }

  hasRoomFor(size: number): boolean {
    return this.count === 0 || this.count + size <= this.capacity;
  }

  /** Resolves when `size` more records fit. */
  async waitForRoom(size: number): Promise<void> {
    while (!this.hasRoomFor(size)) await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
  }

  /** Adds an item; call only when `hasRoomFor(item.size)`. */
  push(item: T): void {
    this.items.push(item);
    this.count += item.size;
    if (this.count > this.peak) this.peak = this.count;
    const waiter = this.itemWaiter;
    this.itemWaiter = null;
    waiter?.();
  }

  /** The next item, waiting until one arrives; null once the buffer is closed and empty. */
  async take(): Promise<T | null> {
    while (this.head >= this.items.length) {
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.itemWaiter = resolve));
    }
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  /** Marks a taken item's records as processed, making room. */
  release(size: number): void {
    this.count -= size;
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** No more pushes: `take()` returns what is queued, then null. */
  close(): void {
    this.closed = true;
    const waiter = this.itemWaiter;
    this.itemWaiter = null;
    waiter?.();
  }
}
