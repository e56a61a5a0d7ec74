import { errorMessage } from '../core/errors.ts';
import { outcomeOf, type AuditContext } from '../audit/audited-run.ts';
import type { ModelVersion } from './model-registry.ts';

/** What a lifecycle change did: the statuses of the versions it touched, before and after. */
export interface StatusChange {
  before: Record<string, string>;
  after: Record<string, string>;
}

/** 'live', 'canary 10%', 'shadow', ...: a version's status as an audit entry shows it. */
export function statusOf(version: ModelVersion | undefined): string {
  if (version === undefined) return '(none)';
  return version.status === 'canary' ? `canary ${version.canaryPercent}%` : version.status;
}

/** The statuses of `versions` by version, for `before`/`after`. */
export function statuses(...versions: Array<ModelVersion | undefined>): Record<string, string> {
  return Object.fromEntries(versions.filter((v): v is ModelVersion => v !== undefined).map((v) => [v.version, statusOf(v)]));
}

/**
 * Runs a lifecycle change and records it as `action` on `model@version`: ok with the statuses
 * before and after, or refused/failed with the reason (then rethrown). `change` fills `record`
 * with before and after as it learns them. Without an audit context it only runs.
 */
export async function auditedChange<T>(audit: AuditContext | undefined, action: string, target: string, change: (record: StatusChange) => Promise<T>): Promise<T> {
  const record: StatusChange = { before: {}, after: {} };
  if (audit === undefined) return change(record);
  let result: T;
  try {
    result = await change(record);
  } catch (error) {
    await audit.trail.record({ action, principal: audit.principal, target, outcome: outcomeOf(error), reason: errorMessage(error), before: record.before });
    throw error;
  }
  await audit.trail.record({ action, principal: audit.principal, target, outcome: 'ok', before: record.before, after: record.after });
  return result;
}
