import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError, TributaryError } from '../core/errors.ts';
import type { TableSource } from './table-source.ts';

export interface LookupTableOptions {
  /** Stable name: labels metrics and logs, and names the table in errors ('merchants'). */
  name: string;
  /**
   * An entry not updated for this long (wall-clock time, from its update time) counts as missing
   * and is evicted. Absent or `false`: entries live until deleted.
   */
  ttl?: Duration | false;
  /** Wall-clock time in epoch ms. Default Date.now; tests inject their own. */
  clock?: () => number;
}

interface Entry<V> {
  value: V;
  /** Wall-clock time of the update, epoch ms; the entry expires at updatedAt + ttl. */
  updatedAt: number;
}

const NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
/** Entries an incremental sweep step examines, so a step costs microseconds, whatever the size. */
const SWEEP_STEP_ENTRIES = 1_000;
/** Longest pause between two sweep passes; shorter when the TTL is. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

/**
 * The latest value per key, read synchronously on the hot path (a batch of records looks up
 * rows in a loop, no promise per record). A table is filled by its source (a compacted Kafka
 * topic, see kafkaTable) or directly with apply/delete (tests, runOnArray, embedding code).
 *
 * TTL: an entry expires `ttl` after its update time (wall clock). Expiry is lazy — a lookup that
 * finds an expired entry evicts it and reports a miss — plus an incremental sweep that `maintain`
 * advances by a bounded number of entries per call (the source calls it per fetched batch, enrich
 * per processed batch), so memory is reclaimed for keys nobody asks for. No timer per key, no
 * timer at all: time is read from the clock when the table is used.
 *
 * One flat Map of small objects (the cheapest per-key layout in V8). An update moves its key to
 * the end of the Map (delete, then set), so iteration order roughly follows update time.
 */
export class LookupTable<V> {
  readonly name: string;
  /** Infinity without a TTL. */
  readonly ttlMs: number;
  /** Where the table's rows come from when a topology runs; absent for purely in-memory tables. */
  readonly source: TableSource<V> | undefined;
  /** Set by the engine while the table's source feeds it (see runtime/tables.ts). */
  feeding = false;
  private readonly clock: () => number;
  private readonly entries = new Map<string, Entry<V>>();
  private readonly sweepIntervalMs: number;
  private sweepCursor: Iterator<[string, Entry<V>]> | null = null;
  private nextSweepAt = -Infinity;
  private expired = 0;

  constructor(options: LookupTableOptions, source?: TableSource<V>) {
    if (typeof options.name !== 'string' || !NAME_PATTERN.test(options.name)) {
      throw new ConfigError('table.name', `"${String(options.name)}" is not a valid table name`, 'use lowercase letters, digits, - and _ (e.g. "merchants")');
    }
    this.name = options.name;
    const ttl = options.ttl === undefined || options.ttl === false ? Infinity : toMillis(options.ttl, `tables.${options.name}.ttl`);
    if (ttl === 0) throw new ConfigError(`tables.${options.name}.ttl`, 'a TTL of 0 would expire every entry at once', "use a positive duration such as '24h', or leave ttl out");
    this.ttlMs = ttl;
    this.sweepIntervalMs = Math.min(ttl, MAX_SWEEP_INTERVAL_MS);
    this.clock = options.clock ?? Date.now;
    this.source = source;
  }

  /** The table's clock (epoch ms); read it once per batch and pass it to get(). */
  now(): number {
    return this.clock();
  }

  /** The live value for `key`, or undefined if absent, deleted or expired (an expired entry is evicted). */
  get(key: string, now: number = this.clock()): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (now - entry.updatedAt >= this.ttlMs) {
      this.entries.delete(key);
      this.expired++;
      return undefined;
    }
    return entry.value;
  }

  has(key: string, now: number = this.clock()): boolean {
    return this.get(key, now) !== undefined;
  }

  /**
   * Sets the latest value of `key`. `updatedAt` (epoch ms, default now) starts its TTL; a time
   * ahead of the clock is taken as now, so a producer's skewed clock cannot make an entry live longer.
   */
  apply(key: string, value: V, updatedAt?: number): void {
    if (value === undefined || value === null) {
      throw new TributaryError(`table ${this.name}: cannot store ${String(value)} for key "${key}" (use delete to remove a key)`, { code: 'TABLE_VALUE' });
    }
    const now = this.clock();
    const at = updatedAt === undefined || !Number.isFinite(updatedAt) || updatedAt > now ? now : updatedAt;
    this.entries.delete(key); // re-inserted at the end: iteration order follows update order
    this.entries.set(key, { value, updatedAt: at });
  }

  /** Removes `key` (a tombstone); true if it was held. */
  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.sweepCursor = null;
  }

  /** Entries held, including expired ones not evicted yet. */
  get size(): number {
    return this.entries.size;
  }

  /** Entries evicted by the TTL since the table was created. */
  get expiredCount(): number {
    return this.expired;
  }

  /** Evicts every expired entry now (a full pass); returns how many. */
  sweep(now: number = this.clock()): number {
    this.sweepCursor = null;
    return this.sweepStep(now, Infinity);
  }

  /**
   * Advances the incremental sweep by at most a thousand entries, when a pass is due (passes
   * start at most once per min(ttl, 1 min)). Cheap enough to call once per batch.
   */
  maintain(now: number = this.clock()): void {
    if (this.ttlMs === Infinity || this.entries.size === 0) return;
    if (this.sweepCursor === null && now < this.nextSweepAt) return;
    this.sweepStep(now, SWEEP_STEP_ENTRIES);
  }

  private sweepStep(now: number, budget: number): number {
    if (this.ttlMs === Infinity) return 0;
    // A Map iterator stays valid while entries are added and deleted, so a pass can span calls.
    const cursor = (this.sweepCursor ??= this.entries.entries());
    let evicted = 0;
    for (let examined = 0; examined < budget; examined++) {
      const next = cursor.next();
      if (next.done) {
        this.sweepCursor = null;
        this.nextSweepAt = now + this.sweepIntervalMs;
        break;
      }
      const [key, entry] = next.value;
      if (now - entry.updatedAt >= this.ttlMs) {
        this.entries.delete(key);
        evicted++;
      }
    }
    this.expired += evicted;
    return evicted;
  }
}

/**
 * A table filled only through apply/delete: for tests, runOnArray and rows an embedding service
 * maintains itself.
 *
 * @example const merchants = lookupTable<Merchant>({ name: 'merchants', ttl: '24h' }); merchants.apply('m1', { tier: 'low' });
 */
export function lookupTable<V>(options: LookupTableOptions): LookupTable<V> {
  return new LookupTable<V>(options);
}
