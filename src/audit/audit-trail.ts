/**
 * Who did what, for the append-only audit trail (README "Audit trail"). Every analyst query,
 * model lifecycle change, batch job and authentication failure is recorded through this port;
 * the engine and the CLI pass a real trail (hash-chained JSON lines and a ClickHouse table),
 * library callers that pass none get `noAudit`.
 */
export type AuditOutcome = 'ok' | 'refused' | 'failed';

export interface AuditEvent {
  /** What happened, as `area.verb`: 'sql.query', 'model.promote', 'backfill.run', 'engine.start', 'ws.auth', ... */
  action: string;
  /** Who: a token's subject, 'loopback', 'cli:<os user>', or 'anonymous'. */
  principal: string;
  /** 'analyst' | 'admin' where the action had a role. */
  role?: string;
  /** What it was done to: a table, a model name@version, a topology, a channel. */
  target?: string;
  outcome: AuditOutcome;
  /** Why it was refused or failed (never a secret). */
  reason?: string;
  /** State before and after a change (model status, ...). */
  before?: unknown;
  after?: unknown;
  /** Anything else worth keeping: normalized query, rows returned, remote address, ranges. */
  details?: Record<string, unknown>;
}

export interface AuditTrail {
  /** Appends one entry; resolves once it is durable in the trail's primary store. */
  record(event: AuditEvent): Promise<void>;
  close(): Promise<void>;
}

/** A trail that keeps nothing: for library calls and tests that do not audit. */
export const noAudit: AuditTrail = {
  record: async () => {},
  close: async () => {},
};
