import { ConfigError } from '../core/errors.ts';
import type { ColumnDef } from './column-def.ts';
import type { ClickHouseDialect } from './dialect.ts';
import { DEDUPLICATION_WINDOW, replacingEngine } from './replacing.ts';
import { quoteIdentifier, quoteString, quoteTableName } from './sql.ts';

export type { ColumnDef } from './column-def.ts';

export interface CreateTableOptions {
  orderBy: string[];
  /** SQL expression for PARTITION BY. */
  partitionBy?: string;
  /**
   * ReplacingMergeTree instead of MergeTree (see replacing.ts): rows with equal orderBy values
   * are one row, the highest `version` (or the last inserted) kept. Where the server has
   * `non_replicated_deduplication_window`, the table also remembers recent insert tokens.
   */
  replacing?: { version?: string };
  dialect: ClickHouseDialect;
}

/**
 * `CREATE TABLE IF NOT EXISTS ... ENGINE = MergeTree` (or ReplacingMergeTree) in the syntax every
 * server since 18.16 accepts. Checks the sorting key against the columns, since the server's
 * error for a bad key (or a Nullable one, which 18.16 forbids) names neither the sink nor the fix.
 */
export function createTableSql(table: string, columns: ColumnDef[], options: CreateTableOptions): string {
  const byName = new Map<string, ColumnDef>();
  for (const column of columns) {
    if (byName.has(column.name)) throw new ConfigError(`clickhouse table ${table}`, `column "${column.name}" is defined twice`, 'rename one of the fields');
    byName.set(column.name, column);
  }
  for (const key of options.orderBy) {
    const column = byName.get(key);
    if (!column || column.alias !== undefined) {
      throw new ConfigError(`clickhouse table ${table} orderBy`, `"${key}" is not a stored column`, `order by some of: ${columns.filter((c) => c.alias === undefined).map((c) => c.name).join(', ')}`);
    }
    if (column.type.startsWith('Nullable(')) {
      throw new ConfigError(`clickhouse table ${table} orderBy`, `"${key}" is Nullable, which cannot be part of a sorting key`, 'order by non-nullable columns');
    }
  }
  const replacing = options.replacing;
  const engine = replacing === undefined ? 'MergeTree' : replacingEngine(table, byName, options.orderBy, replacing.version);
  const definitions = columns.map((column) => '  ' + columnSql(column, options.dialect)).join(',\n');
  const orderBy = options.orderBy.length === 0 ? 'tuple()' : `(${options.orderBy.map(quoteIdentifier).join(', ')})`;
  const partitionBy = options.partitionBy === undefined ? '' : `\nPARTITION BY ${options.partitionBy}`;
  // 18.16 has no such setting (and rejects unknown ones): there a retried insert stays until a merge.
  const settings = replacing !== undefined && options.dialect.supportsDeduplicationWindow ? `\nSETTINGS non_replicated_deduplication_window = ${DEDUPLICATION_WINDOW}` : '';
  return `CREATE TABLE IF NOT EXISTS ${quoteTableName(table)}\n(\n${definitions}\n)\nENGINE = ${engine}${partitionBy}\nORDER BY ${orderBy}${settings}`;
}

function columnSql(column: ColumnDef, dialect: ClickHouseDialect): string {
  let sql = `${quoteIdentifier(column.name)} ${column.type}`;
  if (column.alias !== undefined) sql += ` ALIAS ${column.alias}`;
  else if (column.default !== undefined) sql += ` DEFAULT ${column.default}`;
  if (column.comment !== undefined && dialect.supportsColumnComments) sql += ` COMMENT ${quoteString(column.comment)}`;
  return sql;
}
