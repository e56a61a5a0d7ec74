import { statSync } from 'node:fs';
import { link, mkdir, open as openFile, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ConfigError, errorMessage, TributaryError } from '../core/errors.ts';
import { eachConcurrently } from './concurrently.ts';
import type { KeyStore } from './key-store.ts';
import { BATCH_HEADER, batchFile, blankLine, valueIn } from './key-batch-file.ts';

const ID = /^[A-Za-z0-9._-]{1,120}$/;
/** File-system calls in flight per batch: enough to keep libuv's 4 threads busy, few enough to leave them to others. */
const IN_FLIGHT = 16;

/**
 * Keys as files in one directory (mode 0700, files 0600), one name per key: for tests and a
 * single host. The new keys of a batch are written to ONE temporary file (see key-batch-file.ts),
 * fsynced once, then hard-linked into place under each key's name, which fails if the name exists:
 * the first writer wins, and a reader never sees half a key. Creating a file (an inode) costs
 * 0.5-0.9 ms on this VM and a link 15 us, so a burst of new subjects pays one file, not one per
 * subject. Deleting a key unlinks its name, then overwrites its line in the file and fsyncs, so
 * its bytes are gone though other keys share the file (on a copy-on-write or backed-up disk, a
 * KMS or Redis store is the better place for keys that erasure must really destroy). Files of
 * one key holding just its stored form (written before batches) are still read and deleted.
 */
export class FileKeyStore implements KeyStore {
  readonly description: string;
  private ready: Promise<void> | undefined;

  constructor(private readonly directory: string) {
    this.description = `key files in ${directory}`;
  }

  async get(ids: readonly string[]): Promise<Map<string, string>> {
    await this.open();
    const values = new Map<string, string | undefined>();
    // Keys of one batch share a file: read it once per call.
    const contents = new Map<number, Buffer>();
    await eachConcurrently(ids, IN_FLIGHT, async (id) => {
      values.set(id, await this.read(id, contents));
    });
    return present(ids, values);
  }

  async putIfAbsent(entries: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    await this.open();
    if (entries.size === 0) return new Map();
    for (const id of entries.keys()) this.fileOf(id);
    const batch = path.join(this.directory, `batch.${randomBytes(6).toString('hex')}.tmp`);
    const values = new Map<string, string | undefined>();
    const lost: string[] = [];
    let handle: FileHandle | undefined;
    try {
      handle = await openFile(batch, 'wx', 0o600);
      const content = batchFile(entries);
      await handle.writeFile(content);
      await handle.sync();
      await eachConcurrently([...entries], IN_FLIGHT, async ([id, value]) => {
        try {
          await link(batch, this.fileOf(id));
          values.set(id, value);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
          lost.push(id);
          values.set(id, await this.read(id));
        }
      });
      // Keys another writer had stored first are never used: no copy of them stays on disk.
      for (const id of lost) await blankLine(handle, content, id);
      if (lost.length > 0) await handle.sync();
      await this.syncDirectory();
    } catch (error) {
      throw error instanceof TributaryError ? error : this.failure(`storing ${entries.size} keys`, error);
    } finally {
      await handle?.close().catch(() => {});
      await unlink(batch).catch(() => {});
    }
    return present([...entries.keys()], values);
  }

  async delete(id: string): Promise<boolean> {
    await this.open();
    const file = this.fileOf(id);
    let handle: FileHandle;
    try {
      handle = await openFile(file, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw this.failure(`deleting key ${id}`, error);
    }
    try {
      // The name first (readers see the key gone at once), then the bytes, through the open handle.
      try {
        await unlink(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
      const content = await handle.readFile();
      if (content.subarray(0, BATCH_HEADER.length).toString('latin1') === BATCH_HEADER) await blankLine(handle, content, id);
      else await handle.write(Buffer.alloc(content.length, 0x20), 0, content.length, 0);
      await handle.sync();
      return true;
    } catch (error) {
      throw this.failure(`deleting key ${id}`, error);
    } finally {
      await handle.close().catch(() => {});
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

  /** A key's stored value; `contents` keeps files already read in this call, by inode. */
  private async read(id: string, contents?: Map<number, Buffer>): Promise<string | undefined> {
    const file = this.fileOf(id);
    // Most ids a burst asks for are new: a failed open costs an exception (30-50 us of main
    // thread each, 0.4 s for a burst of 10,000 new subjects); a stat that says "absent" does not.
    // A key created after the stat is found by putIfAbsent's link failing (EEXIST).
    if (statSync(file, { throwIfNoEntry: false }) === undefined) return undefined;
    let handle: FileHandle;
    try {
      handle = await openFile(file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.failure(`reading key ${id}`, error);
    }
    try {
      const inode = contents === undefined ? 0 : (await handle.stat()).ino;
      let content = contents?.get(inode);
      if (content === undefined) {
        content = await handle.readFile();
        contents?.set(inode, content);
      }
      return valueIn(content, id);
    } catch (error) {
      throw this.failure(`reading key ${id}`, error);
    } finally {
      await handle.close().catch(() => {});
    }
  }

  /** New names in the directory survive a crash once it is fsynced (the batch file's content already is). */
  private async syncDirectory(): Promise<void> {
    const handle = await openFile(this.directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close().catch(() => {});
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

/** The ids that have a value, in the order asked for (whatever order the file calls finished in). */
function present(ids: readonly string[], values: ReadonlyMap<string, string | undefined>): Map<string, string> {
  const found = new Map<string, string>();
  for (const id of ids) {
    const value = values.get(id);
    if (value !== undefined) found.set(id, value);
  }
  return found;
}
