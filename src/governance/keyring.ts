import { TributaryError } from '../core/errors.ts';
import { BoundedCache } from './bounded-cache.ts';
import { randomKey } from './crypto.ts';
import type { KeyStore } from './key-store.ts';
import { keyFromStored, storedForm } from './master-key.ts';
import { Pseudonymizer } from './pseudonyms.ts';

export interface KeyringOptions {
  /** Wraps every stored key (see master-key.ts). */
  masterKey?: Buffer;
  /** Subject keys held in memory (default 100,000, about 15 MB). */
  cacheEntries?: number;
  /**
   * How long a subject key may be used from memory (default 60 s). After an erasure, a running
   * engine may still encrypt new values of the subject under the destroyed key for this long:
   * those are unreadable too. Then it creates a new key for the subject's new data.
   */
  cacheMs?: number;
}

const NO_SUBJECTS: ReadonlySet<string> = new Set();

/** The key version in use for pseudonyms and dead letters (rotation is a new version). */
const VERSION = 1;

/**
 * The keys of governance, read from a KeyStore once per key and kept in memory, bounded:
 * the HMAC key of pseudonyms, the dead-letter key, and subject data keys, fetched in one
 * round trip per batch of subjects (never one per record).
 */
export class Keyring {
  readonly pseudonyms: Pseudonymizer;
  private readonly subjects: BoundedCache<Buffer>;
  /** Subjects whose keys a store round trip is fetching now, and that round trip. */
  private readonly loading = new Map<string, Promise<Map<string, Buffer>>>();
  /** Subjects to prefetch once the prefetch in flight (if any) is done. */
  private readonly toPrefetch = new Set<string>();
  private prefetching = false;

  private constructor(
    readonly store: KeyStore,
    private readonly masterKey: Buffer | undefined,
    hmacKey: Buffer,
    readonly deadLetterKey: { key: Buffer; version: number },
    /** Seals durable window checkpoints (they hold keys and sums of personal data). */
    readonly checkpointKey: { key: Buffer; version: number },
    options: KeyringOptions,
  ) {
    this.pseudonyms = new Pseudonymizer(hmacKey, VERSION);
    this.subjects = new BoundedCache(options.cacheEntries ?? 100_000, options.cacheMs ?? 60_000);
  }

  /** Reads (or, on first use, creates) the HMAC, dead-letter and checkpoint keys. */
  static async open(store: KeyStore, options: KeyringOptions = {}): Promise<Keyring> {
    const master = options.masterKey;
    const ids = [`hmac.${VERSION}`, `dead-letters.${VERSION}`, `checkpoints.${VERSION}`];
    const keys = await loadOrCreate(store, ids, master);
    return new Keyring(store, master, keys.get(ids[0]!)!, { key: keys.get(ids[1]!)!, version: VERSION }, { key: keys.get(ids[2]!)!, version: VERSION }, options);
  }

  /** The pseudonym of a subject id (its key's id in the store is `subject.<pseudonym>`). */
  subjectOf(id: string | number): string {
    return this.pseudonyms.hash(id);
  }

  /** The keys of `subjects` if every one is in memory now, else undefined. */
  cachedKeys(subjects: ReadonlySet<string>): Map<string, Buffer> | undefined {
    const keys = new Map<string, Buffer>();
    for (const subject of subjects) {
      const key = this.subjects.get(subject);
      if (key === undefined) return undefined;
      keys.set(subject, key);
    }
    return keys;
  }

  /**
   * The keys of `subjects`, creating those that do not exist yet: one round trip for those not in
   * memory. Subjects already being loaded (another sink's batch of the same window close asked
   * for them a moment ago) wait for that round trip instead of starting their own: the sinks of
   * one output ask for the same new subjects at once, and each would otherwise create them.
   */
  async loadKeys(subjects: ReadonlySet<string>): Promise<Map<string, Buffer>> {
    const keys = new Map<string, Buffer>();
    const missing: string[] = [];
    const waiting: string[] = [];
    for (const subject of subjects) {
      const key = this.subjects.get(subject);
      if (key !== undefined) keys.set(subject, key);
      else if (this.loading.has(subject)) waiting.push(subject);
      else missing.push(subject);
    }
    if (missing.length === 0 && waiting.length === 0) return keys;
    const batches = new Map<Promise<Map<string, Buffer>>, string[]>();
    for (const subject of waiting) {
      const batch = this.loading.get(subject)!;
      const members = batches.get(batch);
      if (members === undefined) batches.set(batch, [subject]);
      else members.push(subject);
    }
    if (missing.length > 0) batches.set(this.startLoading(missing), missing);
    for (const [batch, members] of batches) {
      const loaded = await batch;
      for (const subject of members) keys.set(subject, loaded.get(subjectId(subject))!);
    }
    return keys;
  }

  /**
   * Starts loading (creating) the keys of `subjects` not in memory nor being loaded, without
   * waiting: for subjects seen in a topology's input, whose tokens come later (a window's close),
   * so the close path finds their keys in memory instead of waiting for the store. A failure is
   * left to the load that needs the key (it retries), as is a subject erased meanwhile.
   */
  prefetch(subjects: ReadonlySet<string>): void {
    for (const subject of subjects) if (!this.loading.has(subject) && this.subjects.get(subject) === undefined) this.toPrefetch.add(subject);
    if (this.prefetching || this.toPrefetch.size === 0) return;
    // One prefetch at a time, of everything asked for meanwhile: input batches come by the
    // dozen a second, and a store round trip each (a file and an fsync) would crowd the thread pool.
    const missing = [...this.toPrefetch].filter((subject) => !this.loading.has(subject) && this.subjects.get(subject) === undefined);
    this.toPrefetch.clear();
    if (missing.length === 0) return;
    this.prefetching = true;
    const next = () => {
      this.prefetching = false;
      this.prefetch(NO_SUBJECTS);
    };
    this.startLoading(missing).then(next, next);
  }

  /** One store round trip for `missing`; its keys go to memory unless destroyed meanwhile. */
  private startLoading(missing: string[]): Promise<Map<string, Buffer>> {
    const batch = loadOrCreate(this.store, missing.map(subjectId), this.masterKey);
    for (const subject of missing) this.loading.set(subject, batch);
    const settle = (loaded: Map<string, Buffer> | undefined): void => {
      for (const subject of missing) {
        if (this.loading.get(subject) !== batch) continue;
        this.loading.delete(subject);
        if (loaded !== undefined) this.subjects.set(subject, loaded.get(subjectId(subject))!);
      }
    };
    // Failures reach the callers through `batch`.
    batch.then(settle, () => settle(undefined));
    return batch;
  }

  /** A subject's existing key, read from the store (not created); undefined once erased. */
  async existingKey(subject: string): Promise<Buffer | undefined> {
    const stored = (await this.store.get([subjectId(subject)])).get(subjectId(subject));
    return stored === undefined ? undefined : keyFromStored(subjectId(subject), stored, this.masterKey);
  }

  /**
   * The existing keys of `subjects`, read from the store in one round trip (never from memory,
   * never created): an erased subject is absent at once. For admins' detokenizing.
   */
  async existingKeys(subjects: readonly string[]): Promise<Map<string, Buffer>> {
    const stored = await this.store.get(subjects.map(subjectId));
    const keys = new Map<string, Buffer>();
    for (const subject of subjects) {
      const form = stored.get(subjectId(subject));
      if (form !== undefined) keys.set(subject, keyFromStored(subjectId(subject), form, this.masterKey));
    }
    return keys;
  }

  /** Destroys a subject's key in the store (and here); true when it existed. */
  async destroyKey(subject: string): Promise<boolean> {
    this.subjects.delete(subject);
    this.loading.delete(subject);
    this.toPrefetch.delete(subject);
    return this.store.delete(subjectId(subject));
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

export function subjectId(subject: string): string {
  return `subject.${subject}`;
}

async function loadOrCreate(store: KeyStore, ids: string[], master: Buffer | undefined): Promise<Map<string, Buffer>> {
  const found = await store.get(ids);
  const absent = ids.filter((id) => !found.has(id));
  if (absent.length > 0) {
    const created = await store.putIfAbsent(new Map(absent.map((id) => [id, storedForm(id, randomKey(), master)])));
    for (const id of absent) {
      const stored = created.get(id);
      // Destroyed between our write and the read-back (an erasure racing a new record): try again later.
      if (stored === undefined) throw new TributaryError(`key store (${store.description}): key ${id} vanished while it was created`, { retriable: true, code: 'GOVERNANCE_KEY_STORE' });
      found.set(id, stored);
    }
  }
  return new Map(ids.map((id) => [id, keyFromStored(id, found.get(id)!, master)]));
}
