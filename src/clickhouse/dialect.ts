import type { ClickHouseClient } from '@clickhouse/client';

/**
 * What the connected ClickHouse can do. Features are detected from the server's own system
 * tables (data type families, settings, columns) rather than guessed from version numbers, so
 * the answers hold for 18.16 over HTTP, embedded chDB and anything in between.
 */
export interface ClickHouseDialect {
  /** As reported by SELECT version(), e.g. '18.16.1' or '26.7.2.1'. */
  version: string;
  major: number;
  minor: number;
  supportsDateTime64: boolean;
  /** LowCardinality usable without extra settings (18.16 needs allow_experimental_low_cardinality_type=1). */
  supportsLowCardinality: boolean;
  supportsMap: boolean;
  /** `insert_deduplication_token` exists (newer servers; makes replayed inserts idempotent). */
  supportsInsertDeduplicationToken: boolean;
  /**
   * The MergeTree setting `non_replicated_deduplication_window` exists: a plain (non-replicated)
   * table then remembers the last N insert tokens and drops a repeated insert (not in 18.16).
   */
  supportsDeduplicationWindow: boolean;
  /** `async_insert` exists; chDB enables it by default. */
  supportsAsyncInsert: boolean;
  /** Column `COMMENT '...'` in CREATE TABLE (18.16 has it; table comments it does not). */
  supportsColumnComments: boolean;
  /** JSON output quotes (U)Int64 as strings (18.16's default): read them back with Number() or BigInt(). */
  quotes64BitIntegersInJson: boolean;
  /**
   * Inserts accept JSONCompactEachRow (one JSON array per row, in the INSERT's column order).
   * Cheaper to build than JSONEachRow objects; 18.16 answers "Unknown format".
   */
  supportsJsonCompactEachRow: boolean;
}

const detected = new WeakMap<ClickHouseClient, Promise<ClickHouseDialect>>();

/** Detects the dialect once per client; later calls share the answer. */
export function detectDialect(client: ClickHouseClient): Promise<ClickHouseDialect> {
  let dialect = detected.get(client);
  if (!dialect) {
    dialect = queryDialect(client);
    detected.set(client, dialect);
    dialect.catch(() => detected.delete(client));
  }
  return dialect;
}

async function queryDialect(client: ClickHouseClient): Promise<ClickHouseDialect> {
  // One statement after another: chDB runs a single session per connection.
  const [{ version }] = await rows<{ version: string }>(client, 'SELECT version() AS version');
  const families = new Set(
    (await rows<{ name: string }>(client, "SELECT name FROM system.data_type_families WHERE name IN ('DateTime64', 'LowCardinality', 'Map')")).map((r) => r.name),
  );
  const settings = new Map(
    (
      await rows<{ name: string; value: string }>(
        client,
        "SELECT name, value FROM system.settings WHERE name IN ('insert_deduplication_token', 'async_insert', 'allow_experimental_low_cardinality_type', 'output_format_json_quote_64bit_integers')",
      )
    ).map((r) => [r.name, r.value]),
  );
  const window = await rows<{ name: string }>(client, "SELECT name FROM system.merge_tree_settings WHERE name = 'non_replicated_deduplication_window'");
  const compact = await hasInputFormat(client, 'JSONCompactEachRow');
  const comment = await rows<{ name: string }>(client, "SELECT name FROM system.columns WHERE database = 'system' AND table = 'columns' AND name = 'comment'");
  const [major = 0, minor = 0] = version!.split('.').map(Number);
  const lowCardinalityFlag = settings.get('allow_experimental_low_cardinality_type');
  return {
    version: version!,
    major,
    minor,
    supportsDateTime64: families.has('DateTime64'),
    supportsLowCardinality: families.has('LowCardinality') && (lowCardinalityFlag === undefined || lowCardinalityFlag === '1'),
    supportsMap: families.has('Map'),
    supportsInsertDeduplicationToken: settings.has('insert_deduplication_token'),
    supportsDeduplicationWindow: window.length > 0,
    supportsAsyncInsert: settings.has('async_insert'),
    supportsColumnComments: comment.length > 0,
    quotes64BitIntegersInJson: settings.get('output_format_json_quote_64bit_integers') !== '0',
    supportsJsonCompactEachRow: compact,
  };
}

/** Whether system.formats lists `name` as an input format; false where that table is absent. */
async function hasInputFormat(client: ClickHouseClient, name: string): Promise<boolean> {
  const table = await rows<{ name: string }>(client, "SELECT name FROM system.tables WHERE database = 'system' AND name = 'formats'");
  if (table.length === 0) return false;
  // `name` is one of our constants, never user input, so it is inlined (18.16 has no query_params).
  return (await rows<{ name: string }>(client, `SELECT name FROM system.formats WHERE name = '${name}' AND is_input = 1`)).length > 0;
}

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

/**
 * Settings for a plain, synchronous insert of a batch job: chDB turns async_insert on by default
 * and keeps settings session-wide, so an insert deduplication token another writer set on the
 * same connection would otherwise apply to this insert too (and drop it as a repeat).
 */
export function directInsertSettings(dialect: ClickHouseDialect): Record<string, string | number> {
  return {
    ...(dialect.supportsAsyncInsert ? { async_insert: 0 } : {}),
    ...(dialect.supportsInsertDeduplicationToken ? { insert_deduplication_token: '' } : {}),
  };
}
