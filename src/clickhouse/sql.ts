import { ConfigError } from '../core/errors.ts';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `name` in backticks; any name is safe this way, backticks and backslashes are escaped. */
export function quoteIdentifier(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
}

/** A single-quoted SQL string literal. */
export function quoteString(text: string): string {
  return "'" + text.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

/**
 * A table name as `table` or `database.table`, quoted. Table names come from topology code and
 * end up in DDL and INSERT statements, so only plain identifiers are accepted.
 */
export function quoteTableName(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new ConfigError(`clickhouse table "${table}"`, 'is not a plain table name', 'use letters, digits and underscores, optionally prefixed by "database."');
  }
  return parts.map(quoteIdentifier).join('.');
}
