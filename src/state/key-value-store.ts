/**
 * Hot state (latest features and predictions per key) behind one interface: in memory for the
 * embedded mode, Redis when REDIS_URL is set. Writes are batched: one call per batch of keys.
 */
export interface KeyValueStore {
  readonly kind: 'memory' | 'redis';
  /** Sets many keys at once; values are JSON-serialisable objects. ttlMs 0 keeps them forever. */
  setMany(entries: ReadonlyArray<readonly [key: string, value: unknown]>, ttlMs?: number): Promise<void>;
  get<T = unknown>(key: string): Promise<T | undefined>;
  close(): Promise<void>;
}
