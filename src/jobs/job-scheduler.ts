import { asError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { UnknownJobError } from './job-errors.ts';
import { startJob, type JobResult, type JobRunOptions, type RunningJob } from './job-runner.ts';
import { checkJobs, triggerOf, type JobDefinition } from './job-definition.ts';
import { armTrigger, type Trigger } from './triggers.ts';

export type { JobDefinition } from './job-definition.ts';

export interface SchedulerOptions extends Pick<JobRunOptions, 'entry' | 'cwd' | 'killGraceMs'> {
  jobs: readonly JobDefinition[];
  /** Jobs running at once (default 1: batch work takes at most one core); the rest wait in turn. */
  concurrency?: number;
  logger: Logger;
  /** Told when a run starts and how each due run ended (the CLI records them in the audit trail). */
  onRunStarted?: (job: RunningJob, due: number) => void;
  onRunEnded?: (name: string, outcome: RunOutcome, due: number) => void;
}

export type RunOutcome =
  | { status: 'finished'; result: JobResult }
  | { status: 'skipped'; reason: 'already running' | 'already waiting' | 'scheduler stopped' }
  | { status: 'failed to start'; error: Error };

export interface JobCounts {
  /** Runs started. */
  runs: number;
  /** Runs that exited with a code other than 0 (not stopped by stop()) or could not start. */
  failures: number;
  /** Runs dropped because the previous run was still running or waiting. */
  skipped: number;
  state: 'idle' | 'waiting' | 'running';
  last?: JobResult;
}

interface Entry {
  job: JobDefinition;
  trigger?: Trigger;
  counts: JobCounts;
  running?: RunningJob;
}

interface Pending {
  entry: Entry;
  now: number;
  resolve: (outcome: RunOutcome) => void;
}

/**
 * Runs batch jobs on their schedules and on demand (run(name)), each as a low-priority child
 * process. Never two runs of one job at once: a run that comes due while the job is running or
 * waiting is skipped, counted and logged. At most `concurrency` jobs run at once; a due job
 * waits its turn, first come first served. A job that fails (exit code, or cannot start) is
 * logged and counted; the scheduler goes on.
 */
export class JobScheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Pending[] = [];
  private readonly disarms: Array<() => void> = [];
  private readonly concurrency: number;
  private active = 0;
  private stopped = false;

  constructor(private readonly options: SchedulerOptions) {
    this.concurrency = options.concurrency ?? 1;
    checkJobs(options.jobs, this.concurrency);
    const start = Date.now();
    for (const job of options.jobs) this.entries.set(job.name, { job, trigger: triggerOf(job, start), counts: { runs: 0, failures: 0, skipped: 0, state: 'idle' } });
  }

  /** Arms every schedule (once); on-demand jobs wait for run(name). */
  start(): void {
    if (this.disarms.length > 0 || this.stopped) return;
    const { logger } = this.options;
    const anchor = Date.now();
    for (const entry of this.entries.values()) {
      entry.trigger = triggerOf(entry.job, anchor); // `every` counts from now
      if (!entry.trigger) continue;
      this.disarms.push(armTrigger(entry.trigger, (time) => void this.enqueue(entry, time)));
      const next = entry.trigger.next(Date.now());
      logger.info({ job: entry.job.name, next: next === null ? null : new Date(next).toISOString() }, `job ${entry.job.name}: ${entry.trigger.description}`);
    }
  }

  /** Runs `name` now (or when a slot frees up); `now` is the time its {now...} placeholders see. */
  run(name: string, now = Date.now()): Promise<RunOutcome> {
    const entry = this.entries.get(name);
    if (!entry) return Promise.reject(new UnknownJobError(name, [...this.entries.keys()]));
    return this.enqueue(entry, now);
  }

  counts(name: string): JobCounts {
    const entry = this.entries.get(name);
    if (!entry) throw new UnknownJobError(name, [...this.entries.keys()]);
    return { ...entry.counts };
  }

  /** The next `n` due times of a scheduled job (empty for on-demand ones). */
  nextRuns(name: string, n: number, after = Date.now()): number[] {
    const trigger = this.entries.get(name)?.trigger;
    const times: number[] = [];
    for (let t = trigger?.next(after) ?? null; t !== null && times.length < n; t = trigger!.next(t)) times.push(t);
    return times;
  }

  /** Disarms the schedules, drops waiting runs and stops running jobs (SIGTERM, then SIGKILL). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const disarm of this.disarms.splice(0)) disarm();
    for (const pending of this.queue.splice(0)) {
      pending.entry.counts.state = 'idle';
      pending.resolve({ status: 'skipped', reason: 'scheduler stopped' });
    }
    await Promise.all([...this.entries.values()].map((entry) => entry.running?.stop()));
  }

  private enqueue(entry: Entry, now: number): Promise<RunOutcome> {
    const { name } = entry.job;
    if (this.stopped) return Promise.resolve({ status: 'skipped', reason: 'scheduler stopped' });
    if (entry.counts.state !== 'idle') {
      entry.counts.skipped++;
      const reason = entry.counts.state === 'running' ? 'already running' : 'already waiting';
      const since = entry.running ? ` (pid ${entry.running.pid})` : '';
      this.options.logger.warn({ job: name, skipped: entry.counts.skipped, due: new Date(now).toISOString() }, `job ${name} is due but ${reason}${since}: run skipped (${entry.counts.skipped} so far)`);
      this.options.onRunEnded?.(name, { status: 'skipped', reason }, now);
      return Promise.resolve({ status: 'skipped', reason });
    }
    entry.counts.state = 'waiting';
    return new Promise((resolve) => {
      this.queue.push({ entry, now, resolve });
      this.pump();
    });
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0 && !this.stopped) {
      const pending = this.queue.shift()!;
      this.active++;
      void this.execute(pending).then((outcome) => {
        this.active--;
        this.options.onRunEnded?.(pending.entry.job.name, outcome, pending.now);
        pending.resolve(outcome);
        this.pump();
      });
    }
  }

  private async execute({ entry, now }: Pending): Promise<RunOutcome> {
    const { job } = entry;
    const { logger, entry: programEntry, cwd, killGraceMs } = this.options;
    entry.counts.runs++;
    entry.counts.state = 'running';
    try {
      entry.running = startJob(job.name, job.command, { logger, entry: programEntry, cwd, killGraceMs, now, env: job.env, lowPriority: job.lowPriority, maxOldSpaceMb: job.maxOldSpaceMb });
      this.options.onRunStarted?.(entry.running, now);
      const result = await entry.running.done;
      entry.counts.last = result;
      if (result.exitCode !== 0 && !result.stopped) entry.counts.failures++;
      return { status: 'finished', result };
    } catch (error) {
      entry.counts.failures++;
      logger.error({ job: job.name, err: error }, `job ${job.name} failed to start: ${errorMessage(error)}`);
      return { status: 'failed to start', error: asError(error) };
    } finally {
      entry.running = undefined;
      entry.counts.state = 'idle';
    }
  }
}
