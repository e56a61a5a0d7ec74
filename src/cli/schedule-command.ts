import { Command, InvalidArgumentError } from 'commander';
import { createLogger, type Logger } from '../observability/logger.ts';
import { logLevel } from './log-level.ts';
import { UnknownJobError } from '../jobs/job-errors.ts';
import { startJob, type RunningJob } from '../jobs/job-runner.ts';
import { JobScheduler } from '../jobs/job-scheduler.ts';
import { loadJobsFile, type JobsFile } from '../jobs/jobs-file.ts';
import { expandPlaceholders } from '../jobs/placeholders.ts';
import { withCliAudit } from './cli-audit.ts';
import { JobAudit } from './job-audit.ts';

const PRIORITY_HELP = `
Priority: each job is a child process at nice 19 in its own session (whose Linux autogroup
gets nice 19 too, so it also yields to an engine started from another terminal), with I/O
class idle where ionice works; see src/jobs/low-priority.ts. Processes in separate cgroups
(systemd units, containers) share the CPU by weight instead: give the scheduler CPUWeight=1.
With embedded chDB (no CLICKHOUSE_URL) only one process can open the data directory, so jobs
need CLICKHOUSE_URL while an engine runs.

Placeholders in a command are replaced by epoch ms when the job runs: {now}, {now-1h},
{now+30m}, {now-1h/h} (rounded down to the hour). A scheduled run's {now} is the time it was due.`;

interface PriorityOptions {
  normalPriority?: boolean;
  maxOldSpace?: number;
}

/** `tributary schedule <file>`: runs the jobs of a jobs file on their schedules until SIGINT/SIGTERM. */
export function registerScheduleCommand(program: Command): Command {
  return program
    .command('schedule')
    .argument('<file>', 'jobs file: JSON, or a TS module whose default export is a JobsFile (e.g. topologies/card-fraud.jobs.json)')
    .description('run batch jobs (backfill, score-batch, train) on their cron schedules at low priority, one at a time, until SIGINT/SIGTERM')
    .option('--list', 'print each job, its schedule, its next runs and its command as it would run, then exit')
    .option('--concurrency <n>', "jobs running at once (default: the file's, else 1)", positiveInt)
    .addHelpText('after', `
A run that comes due while the same job is still running (or waiting for a slot) is skipped
and logged; a failing job is logged and the others go on. Jobs without "schedule" or "every"
run only on demand: tributary job <file> <name>. On SIGINT/SIGTERM running jobs get SIGTERM,
then SIGKILL after 10 s.
${PRIORITY_HELP}`)
    .action((file: string, options: { list?: boolean; concurrency?: number }) => scheduleCommand(file, options));
}

/** `tributary job <file> <name>` and `tributary run-job <command...>`: one job now, exiting with its code. */
export function registerJobsCommand(program: Command): void {
  program
    .command('job')
    .argument('<file>', 'jobs file')
    .argument('<name>', 'the job to run')
    .argument('[args...]', 'appended to its command (a later --from or --to overrides the job\'s own)')
    .description('run one job of a jobs file now, at low priority, and exit with its exit code (e.g. the on-demand backfill)')
    .option('--normal-priority', 'run it like any process, without nice, autogroup or I/O class')
    .option('--max-old-space <mb>', "the job's V8 heap limit in MiB (default: the job's maxOldSpaceMb, else Node's)", positiveInt)
    .allowUnknownOption()
    .addHelpText('after', `
Example: tributary job topologies/card-fraud.jobs.json backfill -- --from 2026-01-31 --to 2026-02-01
Options of this command go before <file>; everything after "--" goes to the job.
${PRIORITY_HELP}`)
    .action(async (file: string, name: string, args: string[], options: PriorityOptions) => {
      const jobs = await loadJobsFile(file);
      const job = jobs.jobs.find((candidate) => candidate.name === name);
      if (!job) throw new UnknownJobError(name, jobs.jobs.map((candidate) => candidate.name));
      await runOnce(name, [...job.command, ...args], {
        lowPriority: options.normalPriority ? false : job.lowPriority,
        maxOldSpaceMb: options.maxOldSpace ?? job.maxOldSpaceMb,
        env: job.env,
      });
    });
  program
    .command('run-job')
    .argument('<command...>', 'a tributary command and its arguments, e.g. backfill topologies/card-fraud.ts --from {now-1h} --to {now}')
    .description('run one tributary command now as a low-priority batch job and exit with its exit code')
    .option('--normal-priority', 'run it like any process, without nice, autogroup or I/O class')
    .option('--max-old-space <mb>', "the job's V8 heap limit in MiB (default Node's)", positiveInt)
    .allowUnknownOption()
    .addHelpText('after', `
Example: tributary run-job -- backfill topologies/card-fraud.ts --from {now-1h/h} --to {now/h} --no-progress
Options of this command go before the command; "--" keeps the command's own options from being read as these.
${PRIORITY_HELP}`)
    .action(async (command: string[], options: PriorityOptions) => {
      await runOnce(command[0]!, command, { lowPriority: !options.normalPriority, maxOldSpaceMb: options.maxOldSpace });
    });
}

async function scheduleCommand(file: string, options: { list?: boolean; concurrency?: number }): Promise<void> {
  const jobsFile = await loadJobsFile(file);
  const concurrency = options.concurrency ?? jobsFile.concurrency ?? 1;
  const logger = createLogger('tributary:schedule', logLevel());
  if (options.list) {
    process.stdout.write(describeJobs(jobsFile, new JobScheduler({ jobs: jobsFile.jobs, concurrency, logger })));
    return;
  }
  await withCliAudit('server', async (audit) => {
    const jobAudit = new JobAudit(audit, logger, true);
    const recording = new Set<Promise<void>>();
    const track = (write: Promise<void>) => void recording.add(write.finally(() => recording.delete(write)));
    const scheduler = new JobScheduler({
      jobs: jobsFile.jobs,
      concurrency,
      logger,
      onRunStarted: (job, due) => track(jobAudit.started(job, due)),
      onRunEnded: (name, outcome, due) => track(jobAudit.ended(name, outcome, due)),
    });
    await runScheduler(scheduler, jobsFile, file, concurrency, logger);
    await Promise.all([...recording]);
  });
}

async function runScheduler(scheduler: JobScheduler, jobsFile: JobsFile, file: string, concurrency: number, logger: Logger): Promise<void> {
  scheduler.start();
  process.stdout.write(`\n  Tributary scheduler: ${jobsFile.jobs.length} jobs from ${file}, ${concurrency} at a time, at low priority.\n  Stop with Ctrl-C.\n\n`);
  // Schedules' timers keep the process alive; with on-demand jobs only, this does.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  const signal = await untilSignal(logger, () => process.exit(130));
  clearInterval(keepAlive);
  logger.info(`${signal}: stopping the scheduler and its running jobs`);
  await scheduler.stop();
  logger.info('scheduler stopped');
}

/** Runs one job in the foreground; exits with its exit code. */
async function runOnce(name: string, command: readonly string[], options: { lowPriority?: boolean; maxOldSpaceMb?: number; env?: Record<string, string> }): Promise<void> {
  const logger = createLogger('tributary:job', logLevel());
  const result = await withCliAudit('server', async (audit) => {
    const jobAudit = new JobAudit(audit, logger, false);
    const job: RunningJob = startJob(name, command, { logger, ...options });
    await jobAudit.started(job);
    void untilSignal(logger, () => {
      process.stderr.write('second signal: SIGKILL to the job\n');
      job.kill();
      process.exit(130);
    }).then(() => job.stop());
    const done = await job.done;
    await jobAudit.finished(done);
    return done;
  });
  process.exit(result.exitCode);
}

/** Resolves with the first SIGINT/SIGTERM; a second one calls `again`. */
function untilSignal(logger: Logger, again: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const on = (signal: NodeJS.Signals) => {
      if (received) return again();
      received = true;
      logger.info(`${signal}: stopping (again to exit at once)`);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

function describeJobs(jobsFile: JobsFile, scheduler: JobScheduler): string {
  const lines: string[] = [];
  for (const job of jobsFile.jobs) {
    const next = scheduler.nextRuns(job.name, 3);
    const when = job.schedule !== undefined ? `cron "${job.schedule}"${job.timezone ? ` (${job.timezone})` : ''}` : job.every !== undefined ? `every ${job.every}` : 'on demand';
    lines.push(`${job.name}: ${when}${job.lowPriority === false ? ', normal priority' : ''}${job.description ? `\n  ${job.description}` : ''}`);
    if (next.length > 0) lines.push(`  next: ${next.map((t) => new Date(t).toISOString()).join(', ')}`);
    lines.push(`  runs: tributary ${expandPlaceholders(job.command, next[0] ?? Date.now()).join(' ')}`, '');
  }
  return `${lines.join('\n')}\n`;
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}
