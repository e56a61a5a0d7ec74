import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { TributaryError, errorMessage } from '../core/errors.ts';
import type { AuditEvent } from './audit-trail.ts';
import { chainEntry, entryLine, type AuditEntry } from './audit-entry.ts';
import { withFileLock, type FileLockOptions } from './file-lock.ts';

/** The audit log cannot be appended to (unreadable last entry, no permission, full disk). */
export class AuditWriteError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'AUDIT_WRITE', cause });
  }
}

export interface ChainFileOptions extends FileLockOptions {
  /** Told when a torn last line (a writer that died mid-append, never acknowledged) is cut off. */
  onTornTail?: (bytes: number) => void;
  now?: () => number;
}

const TAIL_CHUNK = 64 * 1024;

/**
 * Appends hash-chained entries to a JSON-lines file (audit-entry.ts). Safe with several
 * processes appending at once: each append holds `<file>.lock` while it reads the last entry,
 * writes the new lines in one write and fsyncs; only then does it resolve.
 */
export class ChainFile {
  readonly path: string;
  private directoryReady: Promise<void> | undefined;

  constructor(file: string, private readonly options: ChainFileOptions = {}) {
    this.path = path.resolve(file);
  }

  append(events: readonly AuditEvent[]): Promise<AuditEntry[]> {
    this.directoryReady ??= mkdir(path.dirname(this.path), { recursive: true }).then(() => undefined);
    this.directoryReady.catch(() => (this.directoryReady = undefined));
    return this.directoryReady.then(() => withFileLock(`${this.path}.lock`, () => this.appendLocked(events), this.options)).catch((error: unknown) => {
      if (error instanceof TributaryError) throw error;
      throw new AuditWriteError(`cannot append to the audit log ${this.path} (${errorMessage(error)}). Fix: point TRIBUTARY_AUDIT_LOG at a file this user may create and append to`, error);
    });
  }

  /** Fails as append() would (no permission, an unreadable last entry) without appending. */
  check(): Promise<void> {
    return this.append([]).then(() => undefined);
  }

  private async appendLocked(events: readonly AuditEvent[]): Promise<AuditEntry[]> {
    const handle = await open(this.path, 'a+', 0o600);
    try {
      const size = (await handle.stat()).size;
      let previous = await this.lastEntry(handle, size);
      const now = this.options.now?.() ?? Date.now();
      const entries = events.map((event) => (previous = chainEntry(event, previous, now)));
      if (entries.length === 0) return entries;
      await handle.appendFile(entries.map((entry) => entryLine(entry) + '\n').join(''));
      await handle.sync();
      if (size === 0) await syncDirectory(path.dirname(this.path));
      return entries;
    } finally {
      await handle.close();
    }
  }

  /** The last complete line's seq and hash; a torn line after it is cut off first. */
  private async lastEntry(handle: FileHandle, size: number): Promise<{ seq: number; hash: string } | undefined> {
    if (size === 0) return undefined;
    const tail = await readTail(handle, size);
    let end = size;
    if (tail.text[tail.text.length - 1] !== '\n') {
      const cut = tail.text.lastIndexOf('\n');
      end = cut === -1 ? tail.start : tail.start + Buffer.byteLength(tail.text.slice(0, cut + 1));
      await handle.truncate(end);
      this.options.onTornTail?.(size - end);
      if (end === 0) return undefined;
      return this.lastEntry(handle, end);
    }
    const body = tail.text.slice(0, -1);
    const line = body.slice(body.lastIndexOf('\n') + 1);
    try {
      const entry = JSON.parse(line) as Partial<AuditEntry>;
      if (Number.isSafeInteger(entry.seq) && typeof entry.hash === 'string' && /^[0-9a-f]{64}$/.test(entry.hash)) return { seq: entry.seq!, hash: entry.hash };
    } catch {
      // reported below
    }
    throw new AuditWriteError(
      `the last line of the audit log ${this.path} is not an audit entry, so no entry can be chained after it. ` +
        `Fix: run \`tributary audit verify --file ${this.path}\` to see what changed; keep that file as evidence and point TRIBUTARY_AUDIT_LOG at a new file`,
    );
  }
}

/**
 * The file's end, from `size` back far enough to hold its last two newlines (so the whole last
 * line), as text starting at byte `start` (always at a line start or 0).
 */
async function readTail(handle: FileHandle, size: number): Promise<{ text: string; start: number }> {
  let start = size;
  let bytes = Buffer.alloc(0);
  while (start > 0) {
    const length = Math.min(TAIL_CHUNK, start);
    start -= length;
    const chunk = Buffer.alloc(length);
    await handle.read(chunk, 0, length, start);
    bytes = Buffer.concat([chunk, bytes]);
    const last = bytes.length >= 2 ? bytes.lastIndexOf(0x0a, bytes.length - 2) : -1;
    if (last !== -1) return { text: bytes.subarray(last + 1).toString('utf8'), start: start + last + 1 };
  }
  return { text: bytes.toString('utf8'), start: 0 };
}

/** A new file's directory entry is durable only once the directory is synced too. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } catch {
    // some file systems refuse fsync on directories; the file itself is synced
  } finally {
    await handle.close();
  }
}
