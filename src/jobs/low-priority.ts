import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import type { Logger } from '../observability/logger.ts';

/** The lowest CPU priority a process can give itself. */
export const LOW_NICE = 19;

/** The absolute path of an executable `program` (a path, or a name searched in `searchPath`); undefined if none. */
export function executablePath(program: string, searchPath = process.env.PATH ?? ''): string | undefined {
  const candidates = program.includes('/') ? [path.resolve(program)] : searchPath.split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, program));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** coreutils' nice(1), which starts a program at a lower priority; undefined where absent. */
export const NICE_BINARY = executablePath('nice', '/usr/bin:/bin');

/** What was applied to a job's process; undefined where it was not available. */
export interface AppliedPriority {
  /** The nice value of its threads (os.getPriority of the process), 0 when left alone. */
  nice: number;
  /** Linux autogroup nice of its own session (kernel.sched_autogroup_enabled), see below. */
  autogroupNice?: number;
  /** 'idle' when `ionice -c 3` succeeded. */
  ioClass?: 'idle';
}

/**
 * Makes the process `pid` (spawned detached, so it leads its own session) yield the CPU, and
 * where possible the disk, to everything else on the machine. Best effort: each step that the
 * system refuses is logged at debug and skipped; the job runs either way.
 *
 * - nice 19 (os.setPriority): on Linux nice is per thread and inherited by threads created
 *   later, so it is set on the main thread right after spawn (Node has not started its V8 and
 *   libuv threads yet) and then on any thread in /proc/<pid>/task that won the race.
 * - autogroup nice 19: with kernel.sched_autogroup_enabled=1 (the default on most distributions)
 *   the CFS scheduler first shares the CPU between sessions and only then applies nice within a
 *   session, so nice alone would not favour an engine started from another terminal or service.
 *   The job has its own session (spawned detached), and /proc/<pid>/autogroup sets that
 *   session's weight. Written only after checking the job's autogroup is not ours, which would
 *   lower this process too.
 * - I/O class idle (`ionice -c 3`): honoured by the BFQ and (Linux 5.14+) mq-deadline block
 *   schedulers, ignored by `none` and kyber (NVMe often uses `none`). A Tributary job does most
 *   of its I/O through ClickHouse, which is another process: this only covers its own files.
 *
 * Not covered: work the job causes in other processes (ClickHouse answering its queries), and
 * cgroups: processes in separate cgroups (systemd services, containers) share the CPU by
 * cpu.weight, whatever their nice; there, give the scheduler's unit CPUWeight=1 (or
 * `docker run --cpu-shares 2`) as well.
 */
export function lowerPriority(pid: number, logger: Logger): AppliedPriority {
  const applied: AppliedPriority = { nice: 0 };
  try {
    os.setPriority(pid, LOW_NICE);
    for (const tid of threads(pid)) if (tid !== pid) trySetPriority(tid);
    applied.nice = os.getPriority(pid);
  } catch (error) {
    logger.debug({ err: error, jobPid: pid }, 'could not renice the job');
  }
  const autogroup = setAutogroupNice(pid, logger);
  if (autogroup !== undefined) applied.autogroupNice = autogroup;
  try {
    // A few ms, once per job start; synchronous so that `applied` tells the truth.
    execFileSync('ionice', ['-c', '3', '-p', ...threads(pid).map(String)], { stdio: 'ignore', timeout: 2_000 });
    applied.ioClass = 'idle';
  } catch (error) {
    logger.debug({ err: error, jobPid: pid }, 'ionice -c 3 not applied (no ionice, or the job already ended)');
  }
  return applied;
}

/** The thread ids of `pid` (just `pid` where /proc is not available). */
function threads(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [pid];
  }
}

function trySetPriority(tid: number): void {
  try {
    os.setPriority(tid, LOW_NICE);
  } catch {
    // the thread ended meanwhile
  }
}

/**
 * "/autogroup-125 nice 0" → "/autogroup-125"; undefined without autogroups, or when the file is
 * empty: the process is in the init group (as under some CI runners), whose weight is not ours to set.
 */
function autogroupOf(pid: number | 'self'): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/autogroup`, 'utf8').split(' ')[0] || undefined;
  } catch {
    return undefined;
  }
}

function setAutogroupNice(pid: number, logger: Logger): number | undefined {
  let enabled = false;
  try {
    enabled = readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
  } catch {
    return undefined;
  }
  const group = autogroupOf(pid);
  if (!enabled || group === undefined || group === autogroupOf('self')) return undefined;
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(LOW_NICE));
    return Number(/nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'))?.[1]);
  } catch (error) {
    logger.debug({ err: error, jobPid: pid }, 'could not set the autogroup nice of the job');
    return undefined;
  }
}
