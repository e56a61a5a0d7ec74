import { TrackedKeyValueStore } from './key-value-store.ts';

/**
 * Hot state in this process (the embedded default). Expired entries are dropped on read. Writes
 * never fail, so lookups are stale only if a writer reports pending updates itself.
 */
export class MemoryKeyValueStore extends TrackedKeyValueStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, { value: unknown; expiresAt: number }>();

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs = 0): Promise<void> {
    const expiresAt = ttlMs > 0 ? Date.now() + ttlMs : Infinity;
    for (const [key, value] of entries) this.entries.set(key, { value, expiresAt });
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value as T;
  }

  async delete(keys: readonly string[]): Promise<boolean[]> {
    return keys.map((key) => this.entries.delete(key));
  }

  get size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}
