import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { AuditLog } from './audit-log.ts';
import { AuditTable } from './audit-table.ts';

/** TRIBUTARY_AUDIT_LOG and TRIBUTARY_AUDIT_TABLE, validated (src/topology/config.ts). */
export interface AuditConfig {
  /** The JSON-lines file, absolute. */
  file: string;
  /** The ClickHouse table; null: no table (TRIBUTARY_AUDIT_TABLE=off). */
  table: string | null;
}

export interface OpenAuditLogOptions {
  logger: Logger;
  metrics?: Metrics;
  /**
   * The ClickHouse the table lives in, opened on the first flush; leave it out to attach one
   * later (AuditLog.mirrorTo(auditTableFor(...))) or to keep only the file.
   */
  clickhouse?: () => Promise<ClickHouseClient>;
  /** The table closes that client when the log closes (a client opened only for it). */
  ownsClient?: boolean;
}

/** The audit trail of a process: the file, and the table where configured and a ClickHouse is given. */
export function openAuditLog(config: AuditConfig, options: OpenAuditLogOptions): AuditLog {
  const log = new AuditLog({ file: config.file, logger: options.logger, metrics: options.metrics });
  if (options.clickhouse !== undefined) {
    const table = auditTableFor(config, { ...options, clickhouse: options.clickhouse });
    if (table !== undefined) log.mirrorTo(table);
  }
  return log;
}

/** The ClickHouse copy of `config`'s log, or undefined with TRIBUTARY_AUDIT_TABLE=off. */
export function auditTableFor(config: AuditConfig, options: OpenAuditLogOptions & { clickhouse: () => Promise<ClickHouseClient> }): AuditTable | undefined {
  if (config.table === null) return undefined;
  return new AuditTable({ table: config.table, file: config.file, client: options.clickhouse, ownsClient: options.ownsClient, logger: options.logger, metrics: options.metrics });
}
