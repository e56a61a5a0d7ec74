import type { ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import { cliPrincipal, type AuditContext } from '../audit/audited-run.ts';
import { openAuditLog } from '../audit/open-audit-log.ts';
import { connectClickHouse } from '../clickhouse/connection.ts';
import { loadConfig, type EngineConfig } from '../topology/config.ts';

/**
 * Where a command's audit table copy goes: the command's own ClickHouse client; 'connect' (open
 * one from CLICKHOUSE_URL or the chDB directory on the first flush); 'server' (only with
 * CLICKHOUSE_URL: a scheduler must not hold the chDB directory its jobs need); or none.
 */
export type CliAuditTable = ClickHouseClient | 'connect' | 'server' | undefined;

/**
 * Runs `work` with the audit trail of this command (TRIBUTARY_AUDIT_LOG; principal `cli:<os
 * user>`), closed afterwards, so every entry is in the file (and offered to the table) before the
 * command exits. Logs of the trail go to stderr.
 */
export async function withCliAudit<T>(table: CliAuditTable, work: (audit: AuditContext) => Promise<T>, config: EngineConfig = loadConfig()): Promise<T> {
  const logger = pino({ name: 'tributary:audit', level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination({ dest: 2, sync: true }));
  const connect = () => connectClickHouse({ url: config.clickhouseUrl, dataDir: config.clickhouseDataDir, logger });
  const clickhouse = table === undefined || (table === 'server' && config.clickhouseUrl === undefined) ? undefined : typeof table === 'string' ? connect : async () => table;
  const log = openAuditLog(config.audit, { logger, clickhouse, ownsClient: typeof table === 'string' });
  try {
    // Before the command changes anything: a change that cannot be audited is not made.
    await log.check();
    return await work({ trail: log, principal: cliPrincipal() });
  } finally {
    await log.close();
  }
}
