import { TributaryError } from '../core/errors.ts';
import type { AuditEvent, AuditOutcome } from './audit-trail.ts';
import { canonicalJson, plainJson, sha256Hex } from './canonical-json.ts';

/**
 * One line of the audit log: the event, its place in the chain and its hash.
 *
 *   hash = SHA-256 (hex) of canonicalJson(entry without `hash`)
 *   prev = `hash` of the entry before it (GENESIS for the first)
 *   line = canonicalJson(entry with `hash`) + "\n"
 *
 * So editing any byte of an entry changes its hash, and deleting or moving an entry breaks the
 * next entry's `prev` and the run of `seq` numbers.
 */
export interface AuditEntry extends AuditEvent {
  /** 1, 2, 3, ... in file order. */
  seq: number;
  /** When it was appended, epoch ms. */
  time: number;
  prev: string;
  hash: string;
}

/** `prev` of the first entry. */
export const GENESIS = '0'.repeat(64);

export const OUTCOMES: readonly AuditOutcome[] = ['ok', 'refused', 'failed'];

/** Detail keys whose values are never kept, whoever passes them (a safety net; callers pass no secrets). */
const SECRET_KEY = /secret|token|passw|authorization|credential|api_?key|private_?key|cookie/i;
const REDACTED = '[redacted]';

/** An event that cannot be recorded (a caller's mistake). */
export class AuditEventError extends TributaryError {
  constructor(problem: string) {
    super(`audit event ${problem}. Fix: give action ('area.verb'), principal and outcome ('ok', 'refused' or 'failed')`, { code: 'AUDIT_EVENT' });
  }
}

/** The entry for `event` after `previous` (undefined: the first entry). */
export function chainEntry(event: AuditEvent, previous: { seq: number; hash: string } | undefined, time: number): AuditEntry {
  const body: Omit<AuditEntry, 'hash'> = { ...eventFields(event), seq: (previous?.seq ?? 0) + 1, time, prev: previous?.hash ?? GENESIS };
  return { ...body, hash: entryHash(body) };
}

export function entryHash(body: object): string {
  return sha256Hex(canonicalJson(body));
}

export function entryLine(entry: AuditEntry): string {
  return canonicalJson(entry);
}

/** The event's own fields, checked, as plain JSON, with secret-looking detail keys redacted. */
export function eventFields(event: AuditEvent): AuditEvent {
  if (typeof event.action !== 'string' || !/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/.test(event.action)) throw new AuditEventError(`action ${JSON.stringify(event.action)} is not 'area.verb'`);
  if (typeof event.principal !== 'string' || event.principal === '') throw new AuditEventError(`${event.action} has no principal`);
  if (!OUTCOMES.includes(event.outcome)) throw new AuditEventError(`${event.action} has outcome ${JSON.stringify(event.outcome)}`);
  const fields: AuditEvent = { action: event.action, principal: event.principal, outcome: event.outcome };
  if (event.role !== undefined) fields.role = String(event.role);
  if (event.target !== undefined) fields.target = String(event.target);
  if (event.reason !== undefined) fields.reason = String(event.reason);
  if (event.before !== undefined) fields.before = scrub(plainJson(event.before));
  if (event.after !== undefined) fields.after = scrub(plainJson(event.after));
  if (event.details !== undefined) fields.details = scrub(plainJson(event.details)) as Record<string, unknown>;
  return fields;
}

function scrub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrub);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, SECRET_KEY.test(key) ? REDACTED : scrub(item)]));
}
