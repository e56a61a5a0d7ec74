import { open, readFile, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { TributaryError } from '../core/errors.ts';

export interface FileLockOptions {
  /**
   * A lock older than this is stale whoever holds it (its holder hung or sits on another host);
   * one whose holder is a process of this host that no longer runs is stale at once. Holders keep
   * the lock for one append (milliseconds). Default 30 s.
   */
  staleMs?: number;
  /** Give up waiting after this long. Default 60 s. */
  timeoutMs?: number;
}

/** The lock could not be taken in time. */
export class FileLockError extends TributaryError {
  constructor(message: string) {
    super(message, { retriable: true, code: 'AUDIT_LOCK' });
  }
}

/**
 * Runs `work` holding `lockPath`, a lock file created with O_CREAT|O_EXCL (`wx`), so processes
 * that append to one file take turns. The lock file names its holder (pid, host, time, a random
 * token); a stale lock (see FileLockOptions) is broken under a second lock file (`.break`), so two
 * waiters that both find it stale do not also remove the fresh lock one of them took meanwhile.
 * Written by hand: proper-lockfile (the library for this) has the same stale-lock race, is
 * unmaintained since 2021 and would add three dependencies.
 */
export async function withFileLock<T>(lockPath: string, work: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const token = await acquire(lockPath, options.staleMs ?? 30_000, options.timeoutMs ?? 60_000);
  try {
    return await work();
  } finally {
    await release(lockPath, token);
  }
}

async function acquire(lockPath: string, staleMs: number, timeoutMs: number): Promise<string> {
  const token = `${process.pid}\n${os.hostname()}\n${Date.now()}\n${randomBytes(8).toString('hex')}\n`;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (await tryCreate(lockPath, token)) return token;
    const holder = await readHolder(lockPath);
    if (holder !== undefined && isStale(holder, staleMs)) {
      await breakStale(lockPath, holder.text, staleMs);
      continue;
    }
    if (Date.now() > deadline) {
      throw new FileLockError(`the lock ${lockPath} is held by ${holder?.pid !== undefined ? `pid ${holder.pid} on ${holder.host}` : 'another process'}; waited ${timeoutMs} ms. Fix: if no Tributary process is appending to this audit log, remove ${lockPath}`);
    }
    // Short waits: a holder keeps the lock for one append.
    await sleep(Math.min(20, 1 + attempt) * (0.5 + Math.random()));
  }
}

async function tryCreate(path: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return true;
}

interface Holder {
  text: string;
  pid?: number;
  host?: string;
  ageMs: number;
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const [pid, host] = text.split('\n');
    return { text, pid: pid ? Number(pid) : undefined, host, ageMs: Date.now() - info.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // released meanwhile
    throw error;
  }
}

function isStale(holder: Holder, staleMs: number): boolean {
  if (holder.ageMs > staleMs) return true;
  if (holder.host !== os.hostname() || holder.pid === undefined || !Number.isInteger(holder.pid) || holder.pid <= 0) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Removes the lock only if it still is the stale one we read, under `.break` so one breaker acts at a time. */
async function breakStale(lockPath: string, staleText: string, staleMs: number): Promise<void> {
  const breaker = `${lockPath}.break`;
  if (!(await tryCreate(breaker, `${process.pid}\n`))) {
    const other = await readHolder(breaker);
    if (other !== undefined && other.ageMs > staleMs) await unlink(breaker).catch(() => {});
    await sleep(5);
    return;
  }
  try {
    const current = await readFile(lockPath, 'utf8').catch(() => undefined);
    if (current === staleText) await unlink(lockPath).catch(() => {});
  } finally {
    await unlink(breaker).catch(() => {});
  }
}

async function release(lockPath: string, token: string): Promise<void> {
  // Another process removes our lock only if it judged it stale; then the lock is not ours to remove.
  const current = await readFile(lockPath, 'utf8').catch(() => undefined);
  if (current === token) await unlink(lockPath).catch(() => {});
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
