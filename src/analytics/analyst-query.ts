import type { ClickHouseSecurity } from '../clickhouse/server-security.ts';
import type { AnalystBackend } from './analyst-backend.ts';
import { openChdbBackend } from './chdb-backend.ts';
import { checkAnalystQuery } from './query-allowlist.ts';
import { resultRows, type ResultFormat } from './result-format.ts';
import { openServerBackend } from './server-backend.ts';
import { MAX_SQL_BYTES, type AnalystUser, type QueryLimits } from './sql-config.ts';
import { queryFailure, SqlQueryError } from './sql-errors.ts';
import type { SqlRole } from './sql-jwt.ts';
import { checkTables } from './table-rule.ts';

/** Where the topology's tables are: a ClickHouse server (url wins) or a chDB data directory. */
export interface AnalystTarget {
  url?: string;
  dataDir?: string;
  /** chDB: the topology's database (default "default"); a server's comes from the URL's path. */
  database?: string;
  /** A server: the read-only user analyst queries run as (required there). */
  analyst?: AnalystUser;
  /** A server: its TLS (CLICKHOUSE_CA_FILE and friends); the engine's own user and password are never used here. */
  security?: ClickHouseSecurity;
}

export interface AnalystQueryOptions {
  role: SqlRole;
  format: ResultFormat;
  limits: QueryLimits;
  /** The tables analysts may read (admins read every table of the database). */
  analystTables: readonly string[];
  signal?: AbortSignal;
}

export interface AnalystAnswer {
  text: string;
  /** The statement that ran: ClickHouse's canonical rendering of the caller's. */
  canonical: string;
  rows: number | undefined;
}

/** What is known about a query so far, for the audit trail of one that was refused or failed. */
export interface AnalystQueryTrace {
  canonical?: string;
}

/**
 * Runs one analyst query, or refuses it:
 *
 * 1. ClickHouse's parser renders the text canonically: exactly one statement, no comments,
 *    no heredocs, no quoted names (sql-parser.ts);
 * 2. its `EXPLAIN AST` must pass the allowlist: one SELECT, allowlisted node types and pure
 *    functions, no SETTINGS, FORMAT, INTO OUTFILE or table functions (query-allowlist.ts);
 * 3. the tables it reads must be the role's, in the topology's database (table-rule.ts);
 * 4. the canonical text (never the caller's) runs within the limits, read-only: embedded in a
 *    locked chDB session, on a server as the analyst user whose profile holds them.
 *
 * Rejects with SqlQueryError (a refusal, a limit, ClickHouse's own error, an unreachable target).
 */
export async function runAnalystQuery(target: AnalystTarget, sql: string, options: AnalystQueryOptions, trace: AnalystQueryTrace = {}): Promise<AnalystAnswer> {
  if (Buffer.byteLength(sql, 'utf8') > MAX_SQL_BYTES) throw new SqlQueryError('TOO_LARGE', `the SQL text is longer than ${MAX_SQL_BYTES} bytes`);
  if (sql.trim() === '') throw new SqlQueryError('BAD_REQUEST', 'the SQL text is empty: send one SELECT statement as the request body');
  const backend: AnalystBackend =
    target.url !== undefined ? await openServerBackend(target.url, target.analyst, options.limits, target.security?.tls) : await openChdbBackend(target.dataDir, target.database ?? 'default', options.limits);
  try {
    const canonical = await backend.parser.canonical(sql);
    trace.canonical = canonical;
    const allowed = checkAnalystQuery(await clickhouse(() => backend.parser.explainAst(canonical)), canonical);
    await checkTables(allowed, options.role, { database: backend.database, analystTables: new Set(options.analystTables) }, {
      cteNames: () => clickhouse(() => backend.parser.cteNames(canonical)),
      databaseTables: () => clickhouse(() => backend.databaseTables()),
    });
    if (options.signal?.aborted) throw new SqlQueryError('TIME_LIMIT', `no answer within the time limit of ${options.limits.timeoutMs} ms`);
    const text = await backend.run(canonical, options.format, options.signal);
    return { text, canonical, rows: resultRows(text, options.format) };
  } finally {
    await backend.close();
  }
}

/** A step that asks ClickHouse: its failures become SqlQueryErrors (a too deep AST, ...). */
async function clickhouse<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw error instanceof SqlQueryError ? error : queryFailure(error);
  }
}
