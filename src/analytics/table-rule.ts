import type { AllowedQuery } from './query-allowlist.ts';
import type { SqlRole } from './sql-jwt.ts';
import { SqlQueryError } from './sql-errors.ts';

/** Which tables each role may read. */
export interface TableAccess {
  /** The topology's database: unqualified names resolve in it, qualified ones must name it. */
  database: string;
  /** What analysts read: the topology's output tables and rollup views (not its dead letters). */
  analystTables: ReadonlySet<string>;
}

/** Answers the table rule needs only for queries with WITH tables, asked lazily. */
export interface TableLookups {
  /** CTE names the query defines (sql-parser.ts cteNames). */
  cteNames(): Promise<Set<string>>;
  /** Every table that exists in the topology's database now. */
  databaseTables(): Promise<Set<string>>;
}

/**
 * The table rule: a query reads tables of the topology's database only (`db.t` must name it;
 * `t` resolves in it, as the query runs with it as the current database: no other database,
 * no system table). Admins read every table there; analysts the topology's output tables, or
 * tables the query defines itself with WITH. A WITH table may not be named like an existing
 * table the role may not read, so no scoping subtlety can make a name that passed as a CTE
 * resolve to that table.
 */
export async function checkTables(query: AllowedQuery, role: SqlRole, access: TableAccess, lookups: TableLookups): Promise<void> {
  const unlisted: string[] = [];
  for (const { database, table } of query.tables) {
    if (database !== undefined && database !== access.database) {
      throw new SqlQueryError('NOT_ALLOWED', `${database}.${table} is outside the topology's database: analyst queries read ${access.database} only (no system or other databases)`);
    }
    if (role === 'admin' || access.analystTables.has(table)) continue;
    if (database !== undefined) throw notReadable(table, access);
    unlisted.push(table);
  }
  if (unlisted.length === 0) return;
  if (!query.definesCtes) throw notReadable(unlisted[0]!, access);
  const ctes = await lookups.cteNames();
  const existing = await lookups.databaseTables();
  for (const table of unlisted) {
    if (!ctes.has(table)) throw notReadable(table, access);
    if (existing.has(table)) throw new SqlQueryError('NOT_ALLOWED', `the WITH table ${table} has the name of a table analysts may not read: choose another name`);
  }
}

function notReadable(table: string, access: TableAccess): SqlQueryError {
  const list = [...access.analystTables].sort().join(', ');
  return new SqlQueryError('NOT_ALLOWED', `analysts may not read the table ${table}: they read the topology's tables (${list || 'none configured'}); admins read every table of ${access.database}`);
}
