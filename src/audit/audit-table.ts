import os from 'node:os';
import path from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { errorMessage } from '../core/errors.ts';
import { createTableSql, type ColumnDef } from '../clickhouse/create-table.ts';
import { detectDialect } from '../clickhouse/dialect.ts';
import { quoteString, quoteTableName } from '../clickhouse/sql.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { entryLine, type AuditEntry } from './audit-entry.ts';

/**
 * The audit log's copy in ClickHouse: one row per entry, with the entry's canonical line in
 * `entry` (what `audit verify --clickhouse` rehashes) and its fields as columns for queries. Plain
 * MergeTree, Int64 epoch ms: the same DDL on 18.16, current servers and chDB. `log` names the
 * chain (host and file), since several engines may share one server.
 */
export const AUDIT_COLUMNS: ColumnDef[] = [
  { name: 'log', type: 'String', comment: 'host:path of the audit log file this entry was appended to' },
  { name: 'seq', type: 'UInt64' },
  { name: 'time', type: 'Int64', comment: 'epoch ms' },
  { name: 'time_time', type: 'DateTime', alias: 'toDateTime(intDiv(`time`, 1000))' },
  { name: 'action', type: 'String' },
  { name: 'principal', type: 'String' },
  { name: 'role', type: 'String' },
  { name: 'target', type: 'String' },
  { name: 'outcome', type: 'String', comment: 'ok, refused or failed' },
  { name: 'reason', type: 'String' },
  { name: 'prev', type: 'String' },
  { name: 'hash', type: 'String' },
  { name: 'entry', type: 'String', comment: 'the canonical JSON line, as in the file' },
];

/** The chain id of a file on this host. */
export function logId(file: string): string {
  return `${os.hostname()}:${path.resolve(file)}`;
}

export interface AuditTableOptions {
  table: string;
  /** The audit log file (absolute); names the chain in `log`. */
  file: string;
  /** The ClickHouse to write to; called on the first flush. */
  client: () => Promise<ClickHouseClient>;
  /** Close the client on close() (a client this table opened for itself). */
  ownsClient?: boolean;
  logger: Logger;
  metrics?: Metrics;
  /** Default 1,000 ms. */
  flushIntervalMs?: number;
  /** Entries kept while ClickHouse fails; beyond it the oldest are dropped (and counted). Default 10,000. */
  maxPending?: number;
}

/**
 * Best effort, never in the way: entries are queued and inserted in batches once a second; a
 * failure is logged and counted (`tributary_audit_table_failures_total`) and retried with the
 * next batch. The file is the record; this copy is for queries.
 */
export class AuditTable {
  private pending: AuditEntry[] = [];
  private flushing: Promise<void> | undefined;
  private ready: Promise<ClickHouseClient> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly log: string;
  private closed = false;

  constructor(private readonly options: AuditTableOptions) {
    this.log = logId(options.file);
    quoteTableName(options.table); // a bad name fails here, not on the first flush
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1_000);
    this.timer.unref();
  }

  offer(entries: readonly AuditEntry[]): void {
    if (this.closed) return;
    this.pending.push(...entries);
    const max = this.options.maxPending ?? 10_000;
    if (this.pending.length > max) {
      const dropped = this.pending.length - max;
      this.pending.splice(0, dropped);
      this.options.metrics?.auditTableDropped.inc(dropped);
      this.options.logger.warn({ dropped, table: this.options.table }, `audit table ${this.options.table}: ${dropped} entries dropped (ClickHouse failing); the audit log file keeps them`);
    }
  }

  /** Inserts what is pending; resolves (never rejects) when done or failed. */
  flush(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing;
    if (this.pending.length === 0) return Promise.resolve();
    this.flushing = this.insertAll();
    return this.flushing;
  }

  /**
   * Entries offered while an insert runs are inserted right after it. Called with entries pending,
   * so it awaits before it can clear `flushing` (which flush() has set by then).
   */
  private async insertAll(): Promise<void> {
    for (;;) {
      const inserted = await this.insertPending();
      if (!inserted || this.pending.length === 0) {
        this.flushing = undefined;
        return;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.flushing;
    await this.flush();
    if (this.options.ownsClient && this.ready) await this.ready.then((client) => client.close()).catch(() => {});
  }

  /** True when the batch went in. */
  private async insertPending(): Promise<boolean> {
    if (this.pending.length === 0) return true;
    const batch = this.pending;
    this.pending = [];
    try {
      const client = await this.open();
      const dialect = await detectDialect(client);
      // chDB turns async_insert on and keeps each setting for the session: name both where they exist.
      const settings = { ...(dialect.supportsAsyncInsert ? { async_insert: 0 as const } : {}), ...(dialect.supportsInsertDeduplicationToken ? { insert_deduplication_token: '' } : {}) };
      await client.insert({ table: quoteTableName(this.options.table), values: batch.map((entry) => this.row(entry)), format: 'JSONEachRow', clickhouse_settings: settings });
      this.options.metrics?.auditTableRows.inc(batch.length);
      return true;
    } catch (error) {
      this.pending = [...batch, ...this.pending];
      this.options.metrics?.auditTableFailures.inc();
      this.options.logger.warn({ table: this.options.table, entries: batch.length, err: errorMessage(error) }, `audit table ${this.options.table}: insert failed, retried with the next batch (the audit log file has every entry)`);
      return false;
    }
  }

  private open(): Promise<ClickHouseClient> {
    this.ready ??= (async () => {
      const client = await this.options.client();
      const dialect = await detectDialect(client);
      await client.command({ query: createTableSql(this.options.table, AUDIT_COLUMNS, { orderBy: ['log', 'seq'], dialect }) });
      return client;
    })();
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }

  private row(entry: AuditEntry): Record<string, unknown> {
    return {
      log: this.log,
      seq: entry.seq,
      time: entry.time,
      action: entry.action,
      principal: entry.principal,
      role: entry.role ?? '',
      target: entry.target ?? '',
      outcome: entry.outcome,
      reason: entry.reason ?? '',
      prev: entry.prev,
      hash: entry.hash,
      entry: entryLine(entry),
    };
  }
}

/** Rows of one chain in seq order, as `{ seq, entry }` (the verifier reads `entry`). */
export async function readAuditTable(client: ClickHouseClient, table: string, file: string): Promise<Array<{ seq: number; entry: string }>> {
  const result = await client.query({ query: `SELECT seq, entry FROM ${quoteTableName(table)} WHERE log = ${quoteString(logId(file))} ORDER BY seq`, format: 'JSONEachRow' });
  return (await result.json<{ seq: string | number; entry: string }>()).map((row) => ({ seq: Number(row.seq), entry: row.entry }));
}
