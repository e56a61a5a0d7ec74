import { errorMessage } from '../core/errors.ts';
import type { AuditContext } from '../audit/audited-run.ts';
import type { JobResult, RunningJob } from '../jobs/job-runner.ts';
import type { RunOutcome } from '../jobs/job-scheduler.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * Audit entries of batch jobs: job.start (the command as run, its pid) and job.run (exit code,
 * duration; 'failed' unless it exited 0 or was stopped on purpose, 'refused' when a scheduled run
 * was skipped). Recording never stops the scheduler: a failure is logged.
 */
export class JobAudit {
  constructor(
    private readonly audit: AuditContext,
    private readonly logger: Logger,
    private readonly scheduled: boolean,
  ) {}

  started(job: RunningJob, due?: number): Promise<void> {
    return this.write({ action: 'job.start', principal: this.audit.principal, target: job.name, outcome: 'ok', details: { args: [...job.args], pid: job.pid, ...this.when(due) } });
  }

  finished(result: JobResult, due?: number): Promise<void> {
    const ok = result.exitCode === 0 || result.stopped;
    const details = { exitCode: result.exitCode, ...(result.signal ? { signal: result.signal } : {}), seconds: result.seconds, stopped: result.stopped, ...this.when(due) };
    return this.write({ action: 'job.run', principal: this.audit.principal, target: result.name, outcome: ok ? 'ok' : 'failed', reason: ok ? undefined : `exit code ${result.exitCode}`, details });
  }

  /** A scheduled run's end: finished, skipped or not started. */
  ended(name: string, outcome: RunOutcome, due: number): Promise<void> {
    if (outcome.status === 'finished') return this.finished(outcome.result, due);
    const reason = outcome.status === 'skipped' ? `skipped: ${outcome.reason}` : `failed to start: ${errorMessage(outcome.error)}`;
    return this.write({ action: 'job.run', principal: this.audit.principal, target: name, outcome: outcome.status === 'skipped' ? 'refused' : 'failed', reason, details: this.when(due) });
  }

  private when(due: number | undefined): Record<string, unknown> {
    return due === undefined ? { scheduled: this.scheduled } : { scheduled: this.scheduled, due: new Date(due).toISOString() };
  }

  private write(event: Parameters<AuditContext['trail']['record']>[0]): Promise<void> {
    return this.audit.trail.record(event).catch((error: unknown) => this.logger.error({ job: event.target, err: errorMessage(error) }, `audit: recording ${event.action} failed`));
  }
}
