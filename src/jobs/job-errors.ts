import { TributaryError } from '../core/errors.ts';

/** The job's process could not be started (its program is missing, or not executable). */
export class JobStartError extends TributaryError {
  readonly job: string;
  constructor(job: string, message: string, cause?: unknown) {
    super(`job ${job}: ${message}`, { retriable: false, code: 'JOB_START', cause });
    this.job = job;
  }
}

/** A job name that the jobs file does not define. */
export class UnknownJobError extends TributaryError {
  readonly job: string;
  constructor(job: string, known: readonly string[]) {
    super(`no job named "${job}"; the jobs are: ${known.join(', ') || '(none)'}`, { retriable: false, code: 'JOB_UNKNOWN' });
    this.job = job;
  }
}
