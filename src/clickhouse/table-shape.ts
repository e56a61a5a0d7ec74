import type { ClickHouseClient } from '@clickhouse/client';
import { ConfigError } from '../core/errors.ts';
import { quoteString, quoteTableName } from './sql.ts';

/** What the batch jobs (backfill, training, batch scoring, the comparison report) need to know of a table before reading it. */
export interface TableShape {
  engine: string;
  /** A MergeTree whose merges collapse rows (Replacing, Collapsing, ...): read it with FINAL to see each row once. */
  final: boolean;
  /** Stored columns (not ALIAS or MATERIALIZED), in table order, with their types. */
  columns: Map<string, string>;
}

const COLLAPSING = /^(Replicated)?(Replacing|Collapsing|VersionedCollapsing|Summing|Aggregating|Coalescing)MergeTree$/;
const NUMERIC = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/;

/** Whether JSON values of a column of this type are numbers (18.16 quotes 64-bit integers: convert them). */
export function isNumericType(type: string): boolean {
  return NUMERIC.test(type);
}

/**
 * The engine and stored columns of `table` (a validated name, optionally `database.table`), or
 * undefined when it does not exist. system.tables and DESCRIBE work alike on 18.16 and chDB.
 */
export async function readTableShape(client: ClickHouseClient, table: string): Promise<TableShape | undefined> {
  const quoted = quoteTableName(table);
  const [database, name] = table.includes('.') ? table.split('.') : [undefined, table];
  // 18.16 has no query parameters, hence quoted literals of a validated name.
  const query = `SELECT engine FROM system.tables WHERE database = ${database === undefined ? 'currentDatabase()' : quoteString(database)} AND name = ${quoteString(name!)}`;
  const [found] = await (await client.query({ query, format: 'JSONEachRow' })).json<{ engine: string }>();
  if (found === undefined) return undefined;
  const described = await (await client.query({ query: `DESCRIBE TABLE ${quoted}`, format: 'JSONEachRow' })).json<{ name: string; type: string; default_type: string }>();
  return {
    engine: found.engine,
    final: COLLAPSING.test(found.engine),
    columns: new Map(described.filter((c) => c.default_type !== 'ALIAS' && c.default_type !== 'MATERIALIZED').map((c) => [c.name, c.type])),
  };
}

/** readTableShape, or a ConfigError naming `field` and the fix when the table does not exist. */
export async function requireTableShape(client: ClickHouseClient, table: string, field: string, fix: string): Promise<TableShape> {
  const shape = await readTableShape(client, table);
  if (shape === undefined) throw new ConfigError(field, `table ${table} does not exist`, fix);
  return shape;
}
