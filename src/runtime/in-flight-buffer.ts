/**
 * A bounded FIFO of source batches between fetching and processing, counted in records and in
 * (encoded) bytes. A push that would exceed either bound waits (the caller keeps its consumer
 * alive meanwhile); a batch larger than a whole bound is admitted alone into an empty buffer, so
 * progress is always possible. Sources split their fetches into chunks below the bounds.
 */
export class InFlightBuffer<T extends { size: number; bytes?: number }> {
  private readonly items: T[] = [];
  private head = 0;
  private count = 0;
  private peak = 0;
  private byteCount = 0;
  private bytePeak = 0;
  /** Each returns true once satisfied (and is then dropped). */
  private spaceWaiters: Array<() => boolean> = [];
  private itemWaiters: Array<() => void> = [];
  private closed = false;
  readonly capacity: number;
  readonly byteCapacity: number;

  constructor(capacity: number, byteCapacity = Infinity) {
    this.capacity = capacity;
    this.byteCapacity = byteCapacity;
  }

  /** Encoded bytes of the records queued or being processed. */
  get bytes(): number {
    return this.byteCount;
  }

  /** The largest `bytes` ever seen. */
  get bytesHighWaterMark(): number {
    return this.bytePeak;
  }

  /** Records queued or being processed. */
  get size(): number {
    return this.count;
  }

  /** The largest `size` ever seen (for tests and metrics). */
  get highWaterMark(): number {
    return this.peak;
  }

  hasRoomFor(size: number, bytes = 0): boolean {
    return this.count === 0 || (this.count + size <= this.capacity && this.byteCount + bytes <= this.byteCapacity);
  }

  /**
   * Resolves true when `size` more records fit, or false after `timeoutMs` (so a waiting source
   * can send a heartbeat and wait again without leaving waiters behind).
   */
  waitForRoom(size: number, timeoutMs = Infinity, bytes = 0): Promise<boolean> {
    if (this.hasRoomFor(size, bytes)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = () => {
        if (!this.hasRoomFor(size, bytes)) return false;
        clearTimeout(timer);
        resolve(true);
        return true;
      };
      this.spaceWaiters.push(waiter);
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.spaceWaiters = this.spaceWaiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  /** Adds an item; call only when `hasRoomFor(item.size, item.bytes)`. */
  push(item: T): void {
    this.items.push(item);
    this.count += item.size;
    if (this.count > this.peak) this.peak = this.count;
    if (item.bytes !== undefined) {
      this.byteCount += item.bytes;
      if (this.byteCount > this.bytePeak) this.bytePeak = this.byteCount;
    }
    this.itemWaiters.shift()?.();
  }

  /** The next item, waiting until one arrives; null once the buffer is closed and empty. */
  async take(): Promise<T | null> {
    while (this.head >= this.items.length) {
      if (this.closed) return null;
      await new Promise<void>((resolve) => this.itemWaiters.push(resolve));
    }
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  /** Marks a taken item's records (and their bytes) as processed, making room. */
  release(size: number, bytes = 0): void {
    this.count -= size;
    this.byteCount -= bytes;
    if (this.spaceWaiters.length > 0) this.spaceWaiters = this.spaceWaiters.filter((satisfied) => !satisfied());
  }

  /** No more pushes: `take()` returns what is queued, then null. */
  close(): void {
    this.closed = true;
    const waiters = this.itemWaiters;
    this.itemWaiters = [];
    for (const wake of waiters) wake();
  }
}
