import type { ClickHouseClient } from '@clickhouse/client';
import { ConfigError } from '../core/errors.ts';
import { toSinkError } from './errors.ts';
import { quoteString } from './sql.ts';

/** What an existing table must be for a sink's guarantee to hold. */
export interface ExpectedTable {
  /** system.tables.engine, e.g. 'ReplacingMergeTree'. */
  engine: string;
  /** The engine's version column, e.g. ReplacingMergeTree(revision). */
  version?: string;
  /** The sorting key's columns (compared as a set: their order only affects query speed). */
  sortingKey: string[];
  /** How to keep such a table as it is, for the error's fix, e.g. 'remove versionColumn'. */
  optOut: string;
}

/**
 * CREATE TABLE IF NOT EXISTS leaves an existing table as it is, so a table created before e.g.
 * `dedupe` or `versionColumn` was set keeps its old engine and key; a sink writing to it would
 * promise deduplication it does not get. Fails with ConfigError naming both and the way out.
 */
export async function checkExistingTable(client: ClickHouseClient, sink: string, table: string, columns: string[], expected: ExpectedTable): Promise<void> {
  // A validated `table` or `database.table`; 18.16 has no query_params, hence quoted literals.
  const [database, name] = table.includes('.') ? table.split('.') : [undefined, table];
  const query = `SELECT engine, engine_full, sorting_key FROM system.tables WHERE database = ${database === undefined ? 'currentDatabase()' : quoteString(database)} AND name = ${quoteString(name!)}`;
  let found: Array<{ engine: string; engine_full: string; sorting_key: string }> | undefined;
  // 18.16 computes engine_full and sorting_key for every table before filtering, so a table
  // dropped meanwhile by someone else fails the query ("Table ... doesn't exist"): ask again.
  for (let attempt = 1; found === undefined; attempt++) {
    try {
      found = await (await client.query({ query, format: 'JSONEachRow' })).json();
    } catch (error) {
      if (attempt >= 5) throw toSinkError(sink, `reading the engine of ${table}`, error);
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
  const field = `clickhouse table ${table}`;
  const copy = `rename it (RENAME TABLE ${table} TO ${table}_old), start again so that the sink creates it, then copy the rows (INSERT INTO ${table} (${columns.join(', ')}) SELECT ... FROM ${table}_old); or drop it; or ${expected.optOut}`;
  const row = found[0];
  const wanted = expected.version === undefined ? expected.engine : `${expected.engine}(${expected.version})`;
  const engine = row === undefined ? '(not found)' : engineWithVersion(row.engine, row.engine_full);
  if (engine !== wanted) {
    throw new ConfigError(field, `the table exists with engine ${engine}, not ${wanted}; CREATE TABLE IF NOT EXISTS leaves an existing table as it is`, copy);
  }
  const key = keyColumns(row!.sorting_key);
  if (!sameSet(key, expected.sortingKey)) {
    throw new ConfigError(
      field,
      `the table exists with ORDER BY (${key.join(', ')}), not (${expected.sortingKey.join(', ')}), so its rows are not one per key of this sink; CREATE TABLE IF NOT EXISTS leaves an existing table as it is`,
      copy,
    );
  }
}

/** 'ReplacingMergeTree(revision)' from engine_full, which goes on with PARTITION BY, ORDER BY ... */
function engineWithVersion(engine: string, full: string): string {
  if (!full.startsWith(engine + '(')) return engine;
  const close = full.indexOf(')', engine.length);
  const args = full.slice(engine.length + 1, close).replace(/`/g, '').trim();
  return args === '' ? engine : `${engine}(${args})`;
}

/**
 * system.tables.sorting_key is 'a, b, c' (backticks where needed) on 18.16 and current servers;
 * a one-column key is 'a' on 18.16 and '(a)' on chDB.
 */
function keyColumns(sortingKey: string): string[] {
  const key = /^\([^(),]*\)$/.test(sortingKey) ? sortingKey.slice(1, -1) : sortingKey;
  return key === '' ? [] : key.split(', ').map((c) => c.replace(/^`(.*)`$/, '$1'));
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}
