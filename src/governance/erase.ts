import { errorMessage } from '../core/errors.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { Keyring } from './keyring.ts';

/** What an erasure touched, per subject. Names the subject by pseudonym only: the clear id is not kept anywhere. */
export interface ErasureReport {
  /** The subject's pseudonym (h1_...): what stores and the audit trail know it by. */
  subject: string;
  /** The subject's data key existed and is destroyed: every token of it is unreadable now. */
  keyDestroyed: boolean;
  /** Online state keys deleted (those that existed). */
  stateKeysDeleted: string[];
}

export interface ErasureOptions {
  keyring: Keyring;
  /** The subject's online state keys (relative to the state store), from its id and pseudonym. */
  stateKeysOf: (id: string, subject: string) => string[];
  /** Deletes keys from the state store; per key, whether it existed. */
  deleteState: (keys: readonly string[]) => Promise<boolean[]>;
  audit: AuditTrail;
  /** Who asks: 'cli:<os user>', a token's subject. */
  principal: string;
  /** The topology whose state was erased, for the audit entry. */
  topology: string;
}

/**
 * Erases subjects by crypto-shredding: destroys each subject's data key (every token of it, in
 * every ClickHouse table, frame history or backup, becomes unreadable without touching them),
 * deletes its online state, and records one audit entry per subject (outcome 'failed' with the
 * reason when a step fails, then rethrows). No table is scanned.
 */
export async function eraseSubjects(ids: readonly string[], options: ErasureOptions): Promise<ErasureReport[]> {
  const reports: ErasureReport[] = [];
  for (const id of ids) {
    const subject = options.keyring.subjectOf(id);
    const entry = { action: 'governance.erase', principal: options.principal, target: `subject ${subject}` };
    let report: ErasureReport;
    try {
      const keyDestroyed = await options.keyring.destroyKey(subject);
      const keys = options.stateKeysOf(id, subject);
      const existed = await options.deleteState(keys);
      report = { subject, keyDestroyed, stateKeysDeleted: keys.filter((_, i) => existed[i]) };
    } catch (error) {
      await options.audit.record({ ...entry, outcome: 'failed', reason: errorMessage(error), details: { topology: options.topology, keyStore: options.keyring.store.description } });
      throw error;
    }
    await options.audit.record({ ...entry, outcome: 'ok', details: { topology: options.topology, keyStore: options.keyring.store.description, keyDestroyed: report.keyDestroyed, stateKeysDeleted: report.stateKeysDeleted.length } });
    reports.push(report);
  }
  return reports;
}
