import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { ConfigError, errorMessage, TributaryError } from '../core/errors.ts';
import { retry } from '../core/retry.ts';
import { createTableSql, type ColumnDef } from '../clickhouse/create-table.ts';
import { detectDialect, type ClickHouseDialect } from '../clickhouse/dialect.ts';
import { firstLine, isPermanentClickHouseError } from '../clickhouse/errors.ts';
import { quoteIdentifier, quoteTableName } from '../clickhouse/sql.ts';

/** The latest batch prediction of one entity: the fallback's value (LookupTable, Redis). */
export interface BatchPrediction {
  probability: number;
  /** 'name@version'. */
  model: string;
  modelVersion: string;
  featureVersion: string;
  /** Time of the feature row that was scored (its time column), epoch ms. */
  asOf: number;
  /** Start of the run that scored it, epoch ms. */
  scoredAt: number;
}

/** One row of the batch predictions table. */
export interface BatchPredictionRow extends BatchPrediction {
  entity: string;
  runId: string;
}

const COLUMNS: ColumnDef[] = [
  { name: 'entity', type: 'String', comment: 'Entity id (FeatureSet.entityId), the key of the online lookup' },
  { name: 'probability', type: 'Float64' },
  { name: 'model', type: 'String', comment: 'name@version of the model that scored the row' },
  { name: 'modelVersion', type: 'String' },
  { name: 'featureVersion', type: 'String' },
  { name: 'asOf', type: 'Int64', comment: 'Time of the feature row scored, epoch ms' },
  { name: 'scoredAt', type: 'Int64', comment: 'Start of the batch run, epoch ms' },
  { name: 'runId', type: 'String' },
  { name: 'asOf_time', type: 'DateTime', alias: 'toDateTime(intDiv(`asOf`, 1000))', comment: 'asOf as DateTime (seconds)' },
  { name: 'scoredAt_time', type: 'DateTime', alias: 'toDateTime(intDiv(`scoredAt`, 1000))', comment: 'scoredAt as DateTime (seconds)' },
];

const WRITTEN = ['entity', 'probability', 'model', 'modelVersion', 'featureVersion', 'asOf', 'scoredAt', 'runId'] as const;

/**
 * Every run appends one row per entity; readers take the newest per entity (latest scoredAt).
 * A retried insert that the server had written adds copies of equal rows, which readers
 * collapse the same way, so plain MergeTree suffices. Monthly partitions by scoredAt let old
 * runs go with ALTER TABLE ... DROP PARTITION (18.16 has no table TTL).
 */
export function batchPredictionsTableSql(table: string, dialect: ClickHouseDialect): string {
  return createTableSql(table, COLUMNS, { orderBy: ['entity', 'scoredAt'], partitionBy: 'toYYYYMM(toDateTime(intDiv(`scoredAt`, 1000)))', dialect });
}

/** CREATE TABLE IF NOT EXISTS for the batch predictions table. */
export async function createBatchPredictionsTable(client: ClickHouseClient, table: string): Promise<void> {
  quoteTableName(table);
  const dialect = await detectDialect(client);
  await statement(`creating batch predictions table ${table}`, () => client.command({ query: batchPredictionsTableSql(table, dialect) }));
}

export interface BatchPredictionsWriter {
  readonly table: string;
  /** Inserts `rows` in inserts of at most `maxRowsPerInsert` rows, retrying transient failures. */
  insert(rows: readonly BatchPredictionRow[]): Promise<void>;
}

/** Rows per INSERT: ClickHouse wants 10k-100k rows per insert, not many small ones. */
export const DEFAULT_ROWS_PER_INSERT = 50_000;

/** Creates the table if needed and returns its writer (JSONCompactEachRow where the server reads it). */
export async function openBatchPredictionsTable(client: ClickHouseClient, table: string, options: { maxRowsPerInsert?: number } = {}): Promise<BatchPredictionsWriter> {
  const maxRows = options.maxRowsPerInsert ?? DEFAULT_ROWS_PER_INSERT;
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new ConfigError('maxRowsPerInsert', `${maxRows} is not a positive whole number`, 'use e.g. 50000');
  await createBatchPredictionsTable(client, table);
  const dialect = await detectDialect(client);
  const compact = dialect.supportsJsonCompactEachRow;
  const settings: ClickHouseSettings = {
    // chDB turns async_insert on by default, and keeps each setting session-wide: name them all.
    ...(dialect.supportsAsyncInsert ? { async_insert: 0 } : {}),
    ...(dialect.supportsInsertDeduplicationToken ? { insert_deduplication_token: '' } : {}),
  };
  const quoted = quoteTableName(table);
  const columns = WRITTEN.map(quoteIdentifier) as [string, ...string[]];
  const encode = (r: BatchPredictionRow): unknown => (compact ? WRITTEN.map((c) => r[c]) : Object.fromEntries(WRITTEN.map((c) => [c, r[c]])));
  return {
    table,
    async insert(rows) {
      for (let start = 0; start < rows.length; start += maxRows) {
        const values = rows.slice(start, start + maxRows).map(encode);
        await statement(`inserting ${values.length} batch predictions into ${table}`, () =>
          client.insert({ table: quoted, columns, values, format: compact ? 'JSONCompactEachRow' : 'JSONEachRow', clickhouse_settings: settings }),
        );
      }
    },
  };
}

/** Newest scoredAt and row count: a refresh reloads only when either changed. */
export interface BatchPredictionsVersion {
  maxScoredAt: number;
  rows: number;
}

export async function batchPredictionsVersion(client: ClickHouseClient, table: string): Promise<BatchPredictionsVersion> {
  const [row] = await selectRows<{ maxScoredAt: unknown; rows: unknown }>(client, `reading the version of ${table}`, `SELECT max(scoredAt) AS maxScoredAt, count() AS rows FROM ${quoteTableName(table)}`);
  return { maxScoredAt: Number(row?.maxScoredAt ?? 0), rows: Number(row?.rows ?? 0) };
}

export interface ReadLatestOptions {
  /** Only rows with scoredAt >= since (an incremental refresh); default all. */
  since?: number;
  /** Entities per query (default 100,000): each page is one bounded result. */
  pageEntities?: number;
  /** Called once per page with that page's rows, before the next page is read. */
  onPage: (rows: BatchPredictionRow[]) => void;
}

/**
 * The newest row per entity (greatest scoredAt, then runId), read in pages of about
 * `pageEntities` entities: page b holds the entities with cityHash64(entity) % pages = b, so
 * neither the server's GROUP BY nor the client's result grows with the population (chDB
 * buffers a whole result). Returns the number of entities read.
 */
export async function readLatestBatchPredictions(client: ClickHouseClient, table: string, options: ReadLatestOptions): Promise<number> {
  const quoted = quoteTableName(table);
  const where = `scoredAt >= ${Math.trunc(options.since ?? 0)}`;
  const [count] = await selectRows<{ n: unknown }>(client, `counting entities in ${table}`, `SELECT uniq(entity) AS n FROM ${quoted} WHERE ${where}`);
  const pages = Math.max(1, Math.ceil((Number(count?.n ?? 0) * 1.05) / (options.pageEntities ?? 100_000)));
  // Interned: a few distinct strings shared by every entry instead of one copy per entity.
  const strings = new Map<string, string>();
  const intern = (value: unknown) => {
    const text = String(value);
    let shared = strings.get(text);
    if (shared === undefined) strings.set(text, (shared = text));
    return shared;
  };
  let entities = 0;
  for (let page = 0; page < pages; page++) {
    const query =
      `SELECT entity, argMax(tuple(probability, model, modelVersion, featureVersion, asOf, scoredAt, runId), tuple(scoredAt, runId)) AS latest FROM ${quoted} ` +
      `WHERE ${where} AND cityHash64(entity) % ${pages} = ${page} GROUP BY entity`;
    const rows = await selectRows<{ entity: string; latest: unknown[] | Record<string, unknown> }>(client, `reading batch predictions from ${table}`, query);
    const out = new Array<BatchPredictionRow>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const latest = rows[i]!.latest;
      const [probability, model, modelVersion, featureVersion, asOf, scoredAt, runId] = Array.isArray(latest) ? latest : Object.values(latest);
      out[i] = {
        entity: rows[i]!.entity,
        // Scores are float32 (ScoringModel.score returns a Float32Array); 18.16 parses JSON floats
        // with up to one ulp of error, and rounding back to float32 restores the exact score.
        probability: Math.fround(Number(probability)),
        model: intern(model),
        modelVersion: intern(modelVersion),
        featureVersion: intern(featureVersion),
        asOf: Number(asOf),
        scoredAt: Number(scoredAt),
        runId: intern(runId),
      };
    }
    entities += out.length;
    options.onPage(out);
  }
  return entities;
}

/** The rows of a SELECT (JSONEachRow), retrying transient failures; `what` names it in errors. */
export async function selectRows<T>(client: ClickHouseClient, what: string, query: string): Promise<T[]> {
  return statement(what, async () => (await client.query({ query, format: 'JSONEachRow' })).json<T>());
}

/** Runs a statement, retrying transient failures (a blip should not fail a whole run). */
function statement<T>(what: string, run: () => Promise<T>): Promise<T> {
  return retry(
    async () => {
      try {
        return await run();
      } catch (error) {
        throw new TributaryError(`ClickHouse: ${what} failed: ${firstLine(errorMessage(error))}`, { retriable: !isPermanentClickHouseError(error), code: 'CLICKHOUSE', cause: error });
      }
    },
    { what, maxAttempts: 3, initialDelayMs: 500, maxDelayMs: 4_000 },
  );
}
