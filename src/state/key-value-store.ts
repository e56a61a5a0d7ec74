import { ConnectionError } from '../core/errors.ts';

/** A read of hot state with how far it can be trusted. */
export interface StateLookup<T> {
  /** The stored value; undefined when the key is missing or expired. */
  value: T | undefined;
  /**
   * True while a writer (an online-state sink) holds updates it could not write to the store
   * yet (the store failed; the sink is degraded): a newer value for this key may exist.
   */
  stale: boolean;
  /**
   * Milliseconds since the engine produced the value, from the `updatedAt` field that
   * online-state values carry; undefined for a missing key or a value without `updatedAt`.
   */
  ageMs: number | undefined;
}

/**
 * Hot state (latest features and predictions per key) behind one interface: in memory for the
 * embedded mode, Redis when REDIS_URL is set. Writes are batched: one call per batch of keys.
 *
 * No call hangs while the store is unreachable: it fails within the store's command timeout
 * with a retriable error (`StateUnavailableError` for reads, a `ConnectionError` for writes).
 */
export interface KeyValueStore {
  readonly kind: 'memory' | 'redis';
  /** Sets many keys at once; values are JSON-serialisable objects. ttlMs 0 keeps them forever. */
  setMany(entries: ReadonlyArray<readonly [key: string, value: unknown]>, ttlMs?: number): Promise<void>;
  /** The value of `key` (undefined when missing); rejects with `StateUnavailableError` when the store cannot be read. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** `get` with freshness: whether writes are pending (`stale`) and the value's age. Rejects like `get`. */
  lookup<T = unknown>(key: string): Promise<StateLookup<T>>;
  /** Deletes keys (erasure of a subject's online state); per key, whether it existed. */
  delete(keys: readonly string[]): Promise<boolean[]>;
  /** Whether some writer holds updates not yet in the store (what `lookup` reports as `stale`). */
  readonly stale: boolean;
  /** A writer reports that it holds updates it could not write (true) or that it caught up (false). */
  setPending(writer: string, pending: boolean): void;
  close(): Promise<void>;
}

/** The store could not be read (Redis down or not answering in time). Retriable: try again later. */
export class StateUnavailableError extends ConnectionError {
  constructor(message: string, cause?: unknown) {
    super('Redis', `${message} (hot state unavailable; retriable)`, cause);
  }
}

/** The bookkeeping both stores share: writers with pending updates, and the lookup result. */
export class PendingWriters {
  private readonly writers = new Set<string>();

  set(writer: string, pending: boolean): void {
    if (pending) this.writers.add(writer);
    else this.writers.delete(writer);
  }

  get stale(): boolean {
    return this.writers.size > 0;
  }

  lookup<T>(value: T | undefined, now = Date.now()): StateLookup<T> {
    const updatedAt = value !== null && typeof value === 'object' ? (value as { updatedAt?: unknown }).updatedAt : undefined;
    const ageMs = typeof updatedAt === 'number' && Number.isFinite(updatedAt) ? Math.max(0, now - updatedAt) : undefined;
    return { value, stale: this.stale, ageMs };
  }
}

/**
 * What both stores share: the writers' pending updates, and `lookup` as `get` with freshness.
 * A store implements the reads and writes.
 */
export abstract class TrackedKeyValueStore implements KeyValueStore {
  abstract readonly kind: 'memory' | 'redis';
  private readonly pending = new PendingWriters();
  abstract setMany(entries: ReadonlyArray<readonly [key: string, value: unknown]>, ttlMs?: number): Promise<void>;
  abstract get<T = unknown>(key: string): Promise<T | undefined>;
  abstract delete(keys: readonly string[]): Promise<boolean[]>;
  abstract close(): Promise<void>;

  async lookup<T = unknown>(key: string): Promise<StateLookup<T>> {
    return this.pending.lookup(await this.get<T>(key));
  }

  get stale(): boolean {
    return this.pending.stale;
  }

  setPending(writer: string, pending: boolean): void {
    this.pending.set(writer, pending);
  }
}
