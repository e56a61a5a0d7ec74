import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../observability/logger.ts';
import { JobStartError } from './job-errors.ts';
import { logLines } from './job-output.ts';
import { executablePath, LOW_NICE, lowerPriority, NICE_BINARY, type AppliedPriority } from './low-priority.ts';
import { expandPlaceholders } from './placeholders.ts';

/**
 * The Tributary CLI, as `tributary` runs it (bin/tributary.js, from a checkout's src/ or the
 * package's dist/): a job's command is its arguments.
 */
export const CLI_ENTRY: readonly string[] = [process.execPath, fileURLToPath(new URL('../../bin/tributary.js', import.meta.url))];

export interface JobRunOptions {
  logger: Logger;
  /** Program and leading arguments; the job's command follows. Default CLI_ENTRY (tests pass a script). */
  entry?: readonly string[];
  /** The run's time for {now...} placeholders (default Date.now()). */
  now?: number;
  /** Default the current directory, so paths in commands read as they would at a prompt. */
  cwd?: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Default true: nice 19, own session at autogroup nice 19, I/O class idle (see low-priority.ts). */
  lowPriority?: boolean;
  /**
   * V8 heap limit of the job's Node process (NODE_OPTIONS=--max-old-space-size), so a batch job
   * on the engine's machine fails on its own rather than pushing the engine into swap or the
   * OOM killer. Default: Node's own limit.
   */
  maxOldSpaceMb?: number;
  /** stop(): SIGTERM, then SIGKILL after this many ms (default 10,000). */
  killGraceMs?: number;
}

export interface JobResult {
  name: string;
  /** The exit code, or 128 + the signal's number when a signal ended it (as shells report it). */
  exitCode: number;
  signal: NodeJS.Signals | null;
  seconds: number;
  /** True when stop() ended it. */
  stopped: boolean;
}

export interface RunningJob {
  readonly name: string;
  readonly pid: number;
  /** The command as run, placeholders expanded. */
  readonly args: readonly string[];
  readonly priority: AppliedPriority;
  /** Settles when the process has exited and its output is logged. */
  readonly done: Promise<JobResult>;
  /** SIGTERM to the job (its process group at low priority), SIGKILL after the grace period; resolves with its result. */
  stop(): Promise<JobResult>;
  /** SIGKILL at once (a second Ctrl-C). */
  kill(): void;
}

/** Jobs still running, signalled if this process exits first (an orphaned backfill would run on unseen). */
const live = new Map<RunningJob, (signal: NodeJS.Signals) => void>();
let exitHookInstalled = false;

/**
 * Starts one batch job as a child process and returns once it is running; throws JobStartError
 * when it cannot start. At low priority (unless `lowPriority: false`) the job runs in its own
 * session and process group, killed as a whole by stop(). Its output goes to `logger`, tagged
 * `job: name`; its start and end are logged with the duration and exit code.
 */
export function startJob(name: string, command: readonly string[], options: JobRunOptions): RunningJob {
  const { logger } = options;
  const [program, ...leading] = options.entry ?? CLI_ENTRY;
  const args = expandPlaceholders(command, options.now ?? Date.now());
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (options.maxOldSpaceMb !== undefined) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --max-old-space-size=${options.maxOldSpaceMb}`.trim();
  const started = performance.now();
  // Low priority: its own session (for its autogroup, see low-priority.ts) and process group
  // (stop() ends it with its children). Normal priority: a child like any other.
  const low = options.lowPriority !== false;
  // Started through nice(1) where there is one, so the job runs at nice 19 from its first
  // instruction (renicing after spawn races with a fast job); lowerPriority then does the rest.
  const nice = low ? NICE_BINARY : undefined;
  const resolved = nice === undefined ? program! : executablePath(program!, env.PATH);
  if (resolved === undefined) throw new JobStartError(name, `cannot start ${program}: not found or not executable`);
  const [file, argv] = nice === undefined ? [resolved, [...leading, ...args]] : [nice, ['-n', String(LOW_NICE), resolved, ...leading, ...args]];
  const child = spawn(file, argv, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: low });
  if (child.pid === undefined) {
    // spawn reports ENOENT/EACCES through 'error' on the next tick; catch it so it is not unhandled.
    child.once('error', () => {});
    throw new JobStartError(name, `cannot start ${program}: not found or not executable`);
  }
  const pid = child.pid;
  child.on('error', (error) => logger.warn({ job: name, jobPid: pid, err: error }, `job ${name}: ${error.message}`));
  const priority: AppliedPriority = low ? lowerPriority(pid, logger) : { nice: os.getPriority(pid) };
  logger.info({ job: name, jobPid: pid, args, priority }, `job ${name} started (pid ${pid}, nice ${priority.nice})`);
  const output = Promise.all([logLines(child.stdout!, 'stdout', name, logger), logLines(child.stderr!, 'stderr', name, logger)]);
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;
  const done = new Promise<JobResult>((resolve) => {
    child.once('exit', (code, signal) => {
      clearTimeout(killTimer);
      live.delete(job);
      const seconds = Math.round(performance.now() - started) / 1000;
      const exitCode = code ?? 128 + (signal ? os.constants.signals[signal] : 0);
      const result: JobResult = { name, exitCode, signal, seconds, stopped };
      const message = `job ${name} ${stopped ? 'stopped' : 'finished'} with exit code ${exitCode}${signal ? ` (${signal})` : ''} after ${seconds.toFixed(1)} s`;
      // Wait for the last lines, so the end is logged after them (not forever: a grandchild may hold the pipes).
      void Promise.race([output, new Promise((r) => setTimeout(r, 2_000).unref())]).then(() => {
        if (exitCode === 0 || stopped) logger.info({ job: name, jobPid: pid, exitCode, signal, seconds }, message);
        else logger.error({ job: name, jobPid: pid, exitCode, signal, seconds }, message);
        resolve(result);
      });
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(low ? -pid : pid, signal);
    } catch {
      // already gone
    }
  };
  const job: RunningJob = {
    name,
    pid,
    args,
    priority,
    done,
    stop() {
      if (!live.has(job)) return done;
      if (!stopped) {
        stopped = true;
        const graceMs = options.killGraceMs ?? 10_000;
        logger.info({ job: name, jobPid: pid, graceMs }, `stopping job ${name}: SIGTERM, SIGKILL after ${graceMs} ms`);
        signalGroup('SIGTERM');
        killTimer = setTimeout(() => {
          logger.warn({ job: name, jobPid: pid }, `job ${name} still running ${graceMs} ms after SIGTERM: SIGKILL`);
          signalGroup('SIGKILL');
        }, graceMs);
      }
      return done;
    },
    kill() {
      stopped = true;
      signalGroup('SIGKILL');
    },
  };
  live.set(job, signalGroup);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const signal of live.values()) signal('SIGTERM');
    });
  }
  return job;
}

/** Runs one job to its end: resolves with { exitCode, seconds, ... }; rejects only when it cannot start. */
export function runJob(name: string, command: readonly string[], options: JobRunOptions): Promise<JobResult> {
  try {
    return startJob(name, command, options).done;
  } catch (error) {
    return Promise.reject(error);
  }
}
