import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionError, errorMessage } from '../../core/errors.ts';
import type { BudgetLedger } from './budget-ledger.ts';

const LOCK_WAIT_MS = 10_000;

/**
 * The budget ledger in a JSON file (the embedded default): `{ "principal": spentMicroEpsilon }`.
 * Each spend takes an exclusive lock file (O_EXCL, holding the owner's pid: a lock whose process
 * is gone is taken over), reads the file, writes the new total to a temporary file, fsyncs it,
 * renames it over the ledger and fsyncs the directory, then drops the lock. Other processes on
 * the same file (a second engine, `tributary query --dp`) wait their turn; a crash at any point
 * leaves either the old or the new ledger, never a torn one.
 */
export class FileBudgetLedger implements BudgetLedger {
  readonly description: string;
  /** Calls of this process, one at a time (the lock file orders processes). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {
    this.description = `file ${path}`;
  }

  spend(principal: string, cost: number, limit: number): Promise<{ accepted: boolean; spent: number }> {
    return this.serially(async () => {
      const ledger = await this.read();
      const spent = ledger[principal] ?? 0;
      if (spent + cost > limit) return { accepted: false, spent };
      ledger[principal] = spent + cost;
      await this.write(ledger);
      return { accepted: true, spent: spent + cost };
    });
  }

  spent(principal: string): Promise<number> {
    return this.serially(async () => (await this.read())[principal] ?? 0);
  }

  async close(): Promise<void> {
    await this.queue.catch(() => {});
  }

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.locked(step));
    this.queue = run.catch(() => {});
    return run;
  }

  private async locked<T>(step: () => Promise<T>): Promise<T> {
    const lock = `${this.path}.lock`;
    await mkdir(dirname(this.path), { recursive: true }).catch((error: unknown) => this.fail('creating its directory', error));
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const handle = await open(lock, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') this.fail('taking its lock', error);
        if (await this.staleLock(lock)) continue;
        if (Date.now() > deadline) this.fail('taking its lock', `${lock} was held for ${LOCK_WAIT_MS} ms`);
        await sleep(2 + Math.random() * 8);
      }
    }
    try {
      return await step();
    } finally {
      await unlink(lock).catch(() => {});
    }
  }

  /** Removes a lock whose owner process is gone; true when it did. */
  private async staleLock(lock: string): Promise<boolean> {
    const owner = Number(await readFile(lock, 'utf8').catch(() => ''));
    // An empty lock is one being written right now: not stale.
    if (!Number.isSafeInteger(owner) || owner <= 0 || owner === process.pid) return false;
    try {
      process.kill(owner, 0);
      return false;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') return false;
      await unlink(lock).catch(() => {});
      return true;
    }
  }

  private async read(): Promise<Record<string, number>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      this.fail('reading it', error);
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.values(parsed).every((v) => Number.isSafeInteger(v))) {
        return parsed as Record<string, number>;
      }
    } catch {
      // reported below
    }
    // Never start over from zero: that would hand every principal a fresh budget.
    this.fail('reading it', 'the file is not a ledger of whole numbers');
  }

  private async write(ledger: Record<string, number>): Promise<void> {
    const temporary = `${this.path}.${process.pid}.tmp`;
    try {
      const handle = await open(temporary, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(ledger));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.path);
      const directory = await open(dirname(this.path), 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    } catch (error) {
      this.fail('writing it', error);
    }
  }

  private fail(what: string, error: unknown): never {
    // Not retried by the ledger: the query is refused (503) and the analyst asks again.
    throw new ConnectionError('DP budget ledger', `${this.description}: ${what} failed: ${typeof error === 'string' ? error : errorMessage(error)}`, error);
  }
}
