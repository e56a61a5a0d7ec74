import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AuditTrail } from './audit-trail.ts';

export interface AuthFailure {
  /** The client's address as the server saw it. */
  remoteAddress: string;
  /** Why it was refused (a reason code such as 'bad_signature'; never the token). */
  reason: string;
  /** What it tried to reach (an endpoint). */
  target?: string;
  details?: Record<string, unknown>;
}

export interface AuthFailureAuditOptions {
  trail: AuditTrail;
  /** e.g. 'ws.auth'. */
  action: string;
  logger: Logger;
  metrics?: Metrics;
  /** Default 60,000 ms. */
  windowMs?: number;
  /** Failures of one address recorded one by one per window; the rest are counted. Default 5. */
  perAddress?: number;
  /** Addresses tracked per window; failures of further ones are counted under '*'. Default 1,000. */
  maxAddresses?: number;
}

interface Tally {
  recorded: number;
  suppressed: number;
  reasons: Record<string, number>;
}

/**
 * Records authentication failures without letting a flood grow the audit log without bound: per
 * window, the first `perAddress` failures of an address become entries of their own; the rest are
 * counted, and at the end of the window one summary entry per address says how many there were
 * and why (`details.suppressed`, `details.reasons`). Never throws and never waits: a failure to
 * record is logged and counted.
 */
export class AuthFailureAudit {
  private tallies = new Map<string, Tally>();
  private readonly timer: NodeJS.Timeout;
  private readonly windowMs: number;
  private readonly perAddress: number;
  private readonly maxAddresses: number;
  private readonly writes = new Set<Promise<void>>();

  constructor(private readonly options: AuthFailureAuditOptions) {
    this.windowMs = options.windowMs ?? 60_000;
    this.perAddress = options.perAddress ?? 5;
    this.maxAddresses = options.maxAddresses ?? 1_000;
    this.timer = setInterval(() => this.summarize(), this.windowMs);
    this.timer.unref();
  }

  failed(failure: AuthFailure): void {
    const known = this.tallies.get(failure.remoteAddress);
    const address = known !== undefined || this.tallies.size < this.maxAddresses ? failure.remoteAddress : '*';
    let tally = this.tallies.get(address);
    if (tally === undefined) this.tallies.set(address, (tally = { recorded: 0, suppressed: 0, reasons: {} }));
    if (address !== '*' && tally.recorded < this.perAddress) {
      tally.recorded++;
      this.write({ action: this.options.action, principal: 'anonymous', target: failure.target, outcome: 'refused', reason: failure.reason, details: { remoteAddress: failure.remoteAddress, ...failure.details } });
      return;
    }
    tally.suppressed++;
    tally.reasons[failure.reason] = (tally.reasons[failure.reason] ?? 0) + 1;
    this.options.metrics?.auditSuppressed.inc({ action: this.options.action });
  }

  /** Writes the window's summaries and waits for every pending write. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.summarize();
    await Promise.all([...this.writes]);
  }

  private summarize(): void {
    const tallies = this.tallies;
    this.tallies = new Map();
    for (const [address, tally] of tallies) {
      if (tally.suppressed === 0) continue;
      this.write({
        action: this.options.action,
        principal: 'anonymous',
        outcome: 'refused',
        reason: `${tally.suppressed} more failures within ${this.windowMs} ms (not recorded one by one)`,
        details: { remoteAddress: address, suppressed: tally.suppressed, reasons: tally.reasons, windowMs: this.windowMs },
      });
    }
  }

  private write(event: Parameters<AuditTrail['record']>[0]): void {
    const write = this.options.trail.record(event).catch((error: unknown) => {
      this.options.logger.error({ action: event.action, err: errorMessage(error) }, 'audit: recording an authentication failure failed');
    });
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }
}
