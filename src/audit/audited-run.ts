import os from 'node:os';
import { TributaryError, errorMessage } from '../core/errors.ts';
import type { AuditOutcome, AuditTrail } from './audit-trail.ts';

/** Who acts, for a trail: the trail and the principal recorded with each entry. */
export interface AuditContext {
  trail: AuditTrail;
  principal: string;
}

/** `cli:<os user>`: the principal of a command run from a shell. */
export function cliPrincipal(): string {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return `cli:${user}`;
}

/** 'refused' for a rule or setting that said no (not retriable), 'failed' for anything else. */
export function outcomeOf(error: unknown): AuditOutcome {
  return error instanceof TributaryError && !error.retriable && ['CONFIG', 'MODEL_LIFECYCLE', 'MODEL_REGISTRY'].includes(error.code) ? 'refused' : 'failed';
}

export interface AuditedRun<T> {
  /** e.g. 'backfill': recorded as 'backfill.start', then 'backfill.run' with the outcome. */
  kind: string;
  target: string;
  /** What was asked for (range, options): in both entries. */
  details?: Record<string, unknown>;
  /** Counts of a finished run, for the end entry. */
  summary?: (result: T) => Record<string, unknown>;
}

/**
 * Runs a batch job between two audit entries: `<kind>.start` before it, `<kind>.run` after it with
 * its outcome (ok with the summary's counts, or failed/refused with the reason). Without a
 * trail it only runs. The error, if any, is rethrown after it is recorded.
 */
export async function auditedRun<T>(audit: AuditContext | undefined, run: AuditedRun<T>, work: () => Promise<T>): Promise<T> {
  if (audit === undefined) return work();
  const { trail, principal } = audit;
  const started = Date.now();
  await trail.record({ action: `${run.kind}.start`, principal, target: run.target, outcome: 'ok', details: run.details });
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await trail.record({ action: `${run.kind}.run`, principal, target: run.target, outcome: outcomeOf(error), reason: errorMessage(error), details: { ...run.details, ms: Date.now() - started } });
    throw error;
  }
  await trail.record({ action: `${run.kind}.run`, principal, target: run.target, outcome: 'ok', details: { ...run.details, ...run.summary?.(result), ms: Date.now() - started } });
  return result;
}
