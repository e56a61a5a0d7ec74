import os from 'node:os';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { AuditLog } from '../audit/audit-log.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import { configFingerprint, fileSha256 } from '../audit/config-fingerprint.ts';
import { auditTableFor } from '../audit/open-audit-log.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { EngineConfig } from '../topology/config.ts';
import type { EngineAuditOptions } from './engine-options.ts';
import type { RuntimeEnvironment } from './environment.ts';

/**
 * The engine's audit trail and its own entries: `engine.start` (topology file and configuration
 * hashes, secrets redacted, and the names of the settings set) before anything starts, and
 * `engine.stop` (ok, or failed with the reason) at the end. Unless the caller passes a trail, the
 * engine opens TRIBUTARY_AUDIT_LOG and, when the topology uses ClickHouse, copies it to
 * TRIBUTARY_AUDIT_TABLE over the engine's own connection. Everything the engine runs that
 * records (the SQL endpoint, WebSocket authentication, model bootstrap) gets this trail.
 */
export class EngineAudit {
  readonly trail: AuditTrail;
  readonly principal: string;
  private readonly owned: AuditLog | undefined;
  private failure: unknown;

  constructor(
    private readonly config: EngineConfig,
    private readonly topology: string,
    private readonly options: EngineAuditOptions,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.owned = options.trail === undefined ? new AuditLog({ file: config.audit.file, logger, metrics, holdForMirror: config.audit.table !== null }) : undefined;
    this.trail = options.trail ?? this.owned!;
    this.principal = options.principal ?? `process:${safeUser()}`;
  }

  /** Records engine.start; a log that cannot be written stops the start (ConfigError naming TRIBUTARY_AUDIT_LOG). */
  async starting(): Promise<void> {
    const source = this.config.kafkaBrokers ? 'kafka' : 'demo or replay';
    const file = this.options.topologyFile;
    const { sha256, settings } = configFingerprint(process.env);
    const details = { topologyFile: file, topologySha256: file === undefined ? undefined : await fileSha256(file), configSha256: sha256, settings, source, host: os.hostname(), pid: process.pid, node: process.version };
    try {
      await this.trail.record({ action: 'engine.start', principal: this.principal, target: this.topology, outcome: 'ok', details });
    } catch (error) {
      // The cause's own "Fix:" is replaced by this one, which names the setting.
      const cause = errorMessage(error).replace(/\. Fix: .*$/s, '');
      throw new ConfigError('TRIBUTARY_AUDIT_LOG', `the engine cannot record its start: ${cause}`, 'point TRIBUTARY_AUDIT_LOG at a file this user may create and append to (its directory is created)');
    }
  }

  /** Once sinks and models are open: copy the log to ClickHouse if the engine has one. */
  attachClickHouse(environment: RuntimeEnvironment): void {
    if (this.owned === undefined) return;
    const client = environment.openedClickhouse;
    const table = client && auditTableFor(this.config.audit, { clickhouse: () => client, logger: this.logger, metrics: this.metrics });
    if (table) this.owned.mirrorTo(table);
    else this.owned.withoutMirror();
  }

  failed(error: unknown): void {
    this.failure ??= error;
  }

  /** Records engine.stop and closes a trail the engine opened (before its ClickHouse connection closes). */
  async stopped(counts: Record<string, unknown>): Promise<void> {
    const failed = this.failure !== undefined;
    await this.trail
      .record({ action: 'engine.stop', principal: this.principal, target: this.topology, outcome: failed ? 'failed' : 'ok', reason: failed ? errorMessage(this.failure) : undefined, details: counts })
      .catch((error: unknown) => this.logger.error({ err: errorMessage(error) }, 'audit: recording engine.stop failed'));
    await this.owned?.close();
  }
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid-${process.getuid?.() ?? 'unknown'}`;
  }
}
