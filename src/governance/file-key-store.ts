import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ConfigError, errorMessage, TributaryError } from '../core/errors.ts';
import type { KeyStore } from './key-store.ts';

const ID = /^[A-Za-z0-9._-]{1,120}$/;

/**
 * Keys as files in one directory (mode 0700, files 0600), one file per key: for tests and a
 * single host. A new key is written to a temporary file and hard-linked into place, which fails
 * if the name exists: the first writer wins, and a reader never sees half a key. Deleting the
 * file destroys the key (on a copy-on-write or backed-up disk, a KMS or Redis store is the
 * better place for keys that erasure must really destroy).
 */
export class FileKeyStore implements KeyStore {
  readonly description: string;
  private ready: Promise<void> | undefined;

  constructor(private readonly directory: string) {
    this.description = `key files in ${directory}`;
  }

  async get(ids: readonly string[]): Promise<Map<string, string>> {
    await this.open();
    const found = new Map<string, string>();
    for (const id of ids) {
      const value = await this.read(id);
      if (value !== undefined) found.set(id, value);
    }
    return found;
  }

  async putIfAbsent(entries: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    await this.open();
    const stored = new Map<string, string>();
    for (const [id, value] of entries) {
      const target = this.fileOf(id);
      const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(temporary, value, { mode: 0o600 });
      try {
        await link(temporary, target);
        stored.set(id, value);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw this.failure(`storing key ${id}`, error);
        stored.set(id, (await this.read(id))!);
      } finally {
        await unlink(temporary).catch(() => {});
      }
    }
    return stored;
  }

  async delete(id: string): Promise<boolean> {
    await this.open();
    const file = this.fileOf(id);
    try {
      await unlink(file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw this.failure(`deleting key ${id}`, error);
    }
  }

  async close(): Promise<void> {}

  private open(): Promise<void> {
    this.ready ??= mkdir(this.directory, { recursive: true, mode: 0o700 }).then(
      () => undefined,
      (error) => {
        throw new ConfigError('TRIBUTARY_KEY_STORE_DIR', `cannot create ${this.directory} (${errorMessage(error)})`, 'point TRIBUTARY_KEY_STORE_DIR at a directory this process may write');
      },
    );
    return this.ready;
  }

  private async read(id: string): Promise<string | undefined> {
    const file = this.fileOf(id);
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.failure(`reading key ${id}`, error);
    }
  }

  private fileOf(id: string): string {
    if (!ID.test(id)) throw new TributaryError(`key id ${JSON.stringify(id)} is not a key store id`, { code: 'GOVERNANCE_KEY_ID' });
    return path.join(this.directory, `${id}.key`);
  }

  private failure(what: string, error: unknown): TributaryError {
    return new TributaryError(`key store (${this.description}): ${what} failed: ${errorMessage(error)}`, { code: 'GOVERNANCE_KEY_STORE', cause: error });
  }
}
