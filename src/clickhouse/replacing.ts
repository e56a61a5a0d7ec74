import { ConfigError, RecordError } from '../core/errors.ts';
import type { ColumnDef } from './column-def.ts';
import type { RowIdentity } from './insert-token.ts';
import { quoteIdentifier } from './sql.ts';
import type { ExpectedTable } from './table-check.ts';

/**
 * Replacing tables: `ENGINE = ReplacingMergeTree[(<version>)] ORDER BY (<key>)`. Rows with the
 * same ORDER BY key collapse, on merge, into the one with the highest version (the last inserted
 * among equal versions, or without one), so re-emitted windows (a higher `revision`) replace
 * earlier ones and replayed duplicates (the same key and revision) disappear. Merges happen in
 * the background, whenever the server likes: read the latest revision with `SELECT ... FROM t
 * FINAL` or `SELECT key, argMax(col, revision) ... GROUP BY key`; both work on 18.16 and current
 * servers. Rows are only replaced within one partition, hence the partition check in avro-ddl.ts.
 */

/** Integer types only: 18.16 and current servers also accept Float64 versions, silently. */
const VERSION_TYPE = /^U?Int(8|16|32|64)$/;
const UINT32_MAX = 0xffff_ffff;

/** The column added when the schema lacks the version field: `revision UInt32 DEFAULT 0`. */
export function versionColumnDef(name: string): ColumnDef {
  return { name, type: 'UInt32', default: '0', comment: 'Revision of the row: the highest per ORDER BY key is kept' };
}

/**
 * The value of an added version column: the row's field, 0 when absent (rows emitted once,
 * before revisions existed). Anything else fails here, with the field's name, rather than as
 * the server's parse error for the whole insert.
 */
export function versionValue(name: string): (value: unknown) => number {
  return (value) => {
    if (value === undefined || value === null) return 0;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= UINT32_MAX) return value;
    throw new RecordError(`field "${name}" is ${typeof value === 'bigint' ? `${value}n` : JSON.stringify(value)}, not an integer from 0 to ${UINT32_MAX}`, 'VERSION_VALUE');
  };
}

/**
 * Insert tokens a replacing table remembers (`non_replicated_deduplication_window`, where the
 * server has it): a retried insert within the last this-many inserts of the table is dropped.
 * The server keeps one hash per entry; 1000 inserts is ~15 minutes at the sink's usual rate.
 */
export const DEDUPLICATION_WINDOW = 1000;

/** The ENGINE clause, after checking `version` (if any) against the table's columns and key. */
export function replacingEngine(table: string, columns: Map<string, ColumnDef>, orderBy: string[], version: string | undefined): string {
  if (version === undefined) {
    if (orderBy.length === 0) {
      throw new ConfigError(`clickhouse table ${table} dedupe`, 'needs an orderBy key (with none, every row would replace every other)', 'set orderBy to the natural key, e.g. ["cardId", "windowEnd"]');
    }
    return 'ReplacingMergeTree';
  }
  const field = `clickhouse table ${table} versionColumn`;
  const column = columns.get(version);
  const integers = [...columns.values()].filter((c) => c.alias === undefined && VERSION_TYPE.test(c.type) && !orderBy.includes(c.name)).map((c) => c.name);
  const candidates = `use one of: ${integers.join(', ') || '(none)'}, or a name the schema lacks (added as ${version} UInt32 DEFAULT 0)`;
  if (!column || column.alias !== undefined) throw new ConfigError(field, `"${version}" is not a stored column`, candidates);
  if (column.type.startsWith('Nullable(')) {
    throw new ConfigError(field, `"${version}" is ${column.type}, and a version column cannot be Nullable`, `make the Avro field a plain int or long, or ${candidates}`);
  }
  if (!VERSION_TYPE.test(column.type)) {
    throw new ConfigError(field, `"${version}" is ${column.type}, not an integer column`, `make the Avro field an int or long, or ${candidates}`);
  }
  if (orderBy.length === 0) {
    throw new ConfigError(field, 'needs an orderBy key (with none, every row would replace every other)', 'set orderBy to the natural key, e.g. ["cardId", "windowEnd"]');
  }
  if (orderBy.includes(version)) {
    throw new ConfigError(field, `"${version}" is part of orderBy, so no revision would ever replace another`, 'remove it from orderBy: the key names the window, the version its revision');
  }
  return `ReplacingMergeTree(${quoteIdentifier(version)})`;
}

/**
 * The existing-table check and the token identity of a built-in replacing table (dead letters,
 * late records) keyed by `key`: small tables, so every key column goes into the token.
 */
export function builtInKeyed(key: string[]): { expected: ExpectedTable; identity: RowIdentity } {
  return {
    expected: { engine: 'ReplacingMergeTree', sortingKey: key, optOut: 'pass { dedupe: false } to keep it as it is (replays then add rows)' },
    identity: { columns: key },
  };
}
