/**
 * Where the engine's keys live: the HMAC key of pseudonyms, the dead-letter key and one data key
 * per subject. Values are opaque text (a key, base64, possibly wrapped by the master key, see
 * keyring.ts). Implementations: FileKeyStore (one file per key, for tests and single hosts),
 * RedisKeyStore (keys under their own prefix). A KMS adapter implements the same four calls:
 * `putIfAbsent` stores wrapped keys, `delete` schedules the key's destruction (README,
 * "Data protection").
 *
 * Ids: `hmac.<version>`, `dead-letters.<version>`, `subject.<pseudonym>`. Never a clear subject id.
 */
export interface KeyStore {
  /** Where the keys are, for messages (no secret). */
  readonly description: string;
  /** The stored value of each id that exists (absent ids are missing from the map). */
  get(ids: readonly string[]): Promise<Map<string, string>>;
  /**
   * Stores each entry whose id does not exist yet; returns the stored value of every id: its own,
   * or the one another writer stored first (so two engines never use two keys for one subject).
   */
  putIfAbsent(entries: ReadonlyMap<string, string>): Promise<Map<string, string>>;
  /** Destroys a key; true when it existed. */
  delete(id: string): Promise<boolean>;
  close(): Promise<void>;
}
