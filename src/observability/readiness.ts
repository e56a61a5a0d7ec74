/** What /readyz answers: ready, or why not, with each check. */
export interface ReadinessStatus {
  ready: boolean;
  /** Why the engine is not ready (absent when it is). */
  reason?: string;
  checks: { sinksOpen: boolean; sourceRunning: boolean; assigned: boolean; started: boolean };
  /** Partitions this instance reads; null before its source reported an assignment. */
  partitions: number | null;
}

/**
 * The engine's readiness for /readyz: ready once its sinks are open, its source is running with
 * at least one partition assigned, and start-up completed; not ready again once it stops or
 * fails (the reason is kept). The engine calls the marks as it starts and stops; /readyz reads
 * `status()`. Liveness (/healthz) does not depend on it.
 */
export class Readiness {
  private sinksOpen = false;
  private sourceRunning = false;
  private partitions: number | null = null;
  private started = false;
  private stoppedReason: string | null = null;

  sinksOpened(): void {
    this.sinksOpen = true;
  }

  sourceStarted(): void {
    this.sourceRunning = true;
  }

  /** After every group join (and once for sources without a group): how many partitions this instance reads. */
  assigned(partitions: number): void {
    this.partitions = partitions;
  }

  /** Start-up completed (the engine's start resolved). */
  engineStarted(): void {
    this.started = true;
  }

  /** Stopping or failed: not ready for good. The first reason is kept. */
  stopped(reason: string): void {
    this.stoppedReason ??= reason;
  }

  status(): ReadinessStatus {
    const checks = { sinksOpen: this.sinksOpen, sourceRunning: this.sourceRunning, assigned: (this.partitions ?? 0) > 0, started: this.started };
    const reason = this.whyNot(checks);
    return reason === undefined ? { ready: true, checks, partitions: this.partitions } : { ready: false, reason, checks, partitions: this.partitions };
  }

  private whyNot(checks: ReadinessStatus['checks']): string | undefined {
    if (this.stoppedReason !== null) return this.stoppedReason;
    if (!checks.sinksOpen) return 'sinks are not open yet';
    if (!checks.sourceRunning) return 'the source is not running yet';
    if (this.partitions === null) return 'no partitions assigned yet (joining the consumer group)';
    if (this.partitions === 0) return 'no partitions assigned to this instance (more instances than partitions?)';
    if (!checks.started) return 'the engine is still starting';
    return undefined;
  }
}
