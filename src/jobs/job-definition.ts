import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { checkPlaceholders } from './placeholders.ts';
import { cronTrigger, everyTrigger, type Trigger } from './triggers.ts';

/** One batch job: a Tributary command, run on a schedule, on demand, or both. */
export interface JobDefinition {
  /** Unique; tags the job's log lines. */
  name: string;
  /** CLI arguments, e.g. ['score-batch', 'topologies/card-fraud.ts']; may hold {now...} placeholders. */
  command: readonly string[];
  /** Cron expression (croner; 6 fields for seconds). Neither this nor `every`: on demand only. */
  schedule?: string;
  /** A fixed interval from the scheduler's start instead of `schedule`. */
  every?: Duration;
  /** IANA time zone of `schedule` (default the machine's). */
  timezone?: string;
  /** Default true (nice 19 and the rest of low-priority.ts); false runs it like any process. */
  lowPriority?: boolean;
  /** V8 heap limit of the job's process in MiB (see JobRunOptions.maxOldSpaceMb). */
  maxOldSpaceMb?: number;
  env?: Record<string, string>;
  /** Shown by `schedule --list`. */
  description?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/**
 * Throws a ConfigError naming the job and field for anything a run would trip over later;
 * `source` (a file name) prefixes the field.
 */
export function checkJobs(jobs: readonly JobDefinition[], concurrency = 1, source?: string): void {
  const where = source === undefined ? '' : `${source}: `;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`${where}concurrency`, `${concurrency} is not a number of jobs`, 'use a whole number >= 1 (default 1: batch work takes at most one core)');
  const names = new Set<string>();
  for (const [i, job] of jobs.entries()) {
    const at = `${where}jobs[${i}]`;
    if (!NAME.test(job.name)) throw new ConfigError(`${at}.name`, `"${job.name}" is not a job name`, 'use 1-64 letters, digits, _ . : - (e.g. "score-batch")');
    if (names.has(job.name)) throw new ConfigError(`${at}.name`, `two jobs are named "${job.name}"`, 'give each job its own name');
    names.add(job.name);
    if (job.command.length === 0) throw new ConfigError(`${at}.command`, 'the command is empty', 'list the CLI arguments, e.g. ["score-batch", "topologies/card-fraud.ts"]');
    checkPlaceholders(job.command, `${at}.command`);
    if (job.schedule !== undefined && job.every !== undefined) throw new ConfigError(`${at}`, `job "${job.name}" has both schedule and every`, 'keep one of them');
    if (job.maxOldSpaceMb !== undefined && !(Number.isInteger(job.maxOldSpaceMb) && job.maxOldSpaceMb >= 64)) {
      throw new ConfigError(`${at}.maxOldSpaceMb`, `${job.maxOldSpaceMb} is not a heap size`, 'give whole MiB >= 64, e.g. 2048');
    }
    triggerOf(job, 0, at);
  }
}

/** When `job` is due (undefined: on demand only); `every` counts from `anchor`. */
export function triggerOf(job: JobDefinition, anchor: number, at = job.name): Trigger | undefined {
  if (job.schedule !== undefined) return cronTrigger(job.schedule, { timezone: job.timezone, field: `${at}.schedule` });
  if (job.every === undefined) return undefined;
  const ms = toMillis(job.every, `${at}.every`);
  if (ms < 1_000) throw new ConfigError(`${at}.every`, `${job.every} is shorter than a second`, "use '1s' or longer");
  return everyTrigger(ms, anchor, String(job.every));
}
