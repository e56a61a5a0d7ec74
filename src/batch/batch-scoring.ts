import { randomUUID } from 'node:crypto';
import { isNumericType, requireTableShape } from '../clickhouse/table-shape.ts';
import type { ClickHouseClient } from '@clickhouse/client';
import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError, TributaryError } from '../core/errors.ts';
import { retry } from '../core/retry.ts';
import type { Logger } from '../observability/logger.ts';
import type { ModelVersion } from '../registry/model-registry.ts';
import { checkFeatureNames, type ScoringModel } from '../scoring/scoring-model.ts';
import { quoteIdentifier, quoteString, quoteTableName } from '../clickhouse/sql.ts';
import type { KeyValueStore } from '../state/key-value-store.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';
import { openBatchPredictionsTable, selectRows, type BatchPrediction, type BatchPredictionRow } from '../tables/batch-predictions-table.ts';

/** Key of an entity's batch prediction in the state store (under the topology's prefix). */
export const BATCH_PREDICTION_KEY_PREFIX = 'batch-prediction:';

export function batchPredictionKey(entity: string): string {
  return BATCH_PREDICTION_KEY_PREFIX + entity;
}

export interface ScoreBatchOptions {
  client: ClickHouseClient;
  /** Also write each prediction here (Redis, prefix `tributary:<topology>:`) as `batch-prediction:<entity>`. */
  store?: KeyValueStore;
  lifecycle: LifecycleSpec;
  /** The model to score with; its name and version label every prediction. */
  model: ScoringModel;
  /** The model's registry entry: its feature version must be the feature set's. */
  registered?: Pick<ModelVersion, 'model' | 'version' | 'featureVersion'>;
  /** The run's scoredAt, epoch ms (default: now). */
  now?: number;
  /** Rows per model call (default 4096). */
  chunkRows?: number;
  /** Entities per ClickHouse read (default 50,000; also the rows of each insert). */
  pageEntities?: number;
  /** TTL of the store's entries (default 7d). */
  storeTtl?: Duration;
  /** Column holding the feature row's FeatureSet.version (default 'featureVersion'). */
  featureVersionColumn?: string;
  logger?: Logger;
  onProgress?: (progress: ScoreBatchProgress) => void;
}

export interface ScoreBatchProgress {
  page: number;
  pages: number;
  /** Entities scored so far. */
  entities: number;
  seconds: number;
}

export interface ScoreBatchResult {
  runId: string;
  scoredAt: number;
  /** Entities scored and written. */
  entities: number;
  /** Entities whose features or score were not finite numbers (not written). */
  skipped: number;
  seconds: number;
}

interface FeatureTable {
  /** Stored columns and whether each is numeric (64-bit integers arrive as strings from 18.16). */
  columns: Array<{ name: string; numeric: boolean }>;
  replacing: boolean;
}

type Row = Record<string, unknown>;

/**
 * The batch scoring job: scores the latest feature row of every entity (of the feature set's
 * version) with `model`, and writes one prediction per entity to the batch predictions table
 * and, when given, the store. The population is read in pages of about `pageEntities`
 * entities (hash buckets of the entity column), so memory stays bounded whatever its size.
 */
export async function scoreBatch(options: ScoreBatchOptions): Promise<ScoreBatchResult> {
  const started = performance.now();
  const { client, lifecycle, model } = options;
  const featureSet = lifecycle.featureSet;
  const chunkRows = positive(options.chunkRows ?? 4096, 'chunkRows');
  const pageEntities = positive(options.pageEntities ?? 50_000, 'pageEntities');
  const storeTtlMs = toMillis(options.storeTtl ?? '7d', 'storeTtl');
  const versionColumn = options.featureVersionColumn ?? 'featureVersion';
  if (options.registered !== undefined && options.registered.featureVersion !== featureSet.version) {
    throw new ConfigError(
      'model',
      `${options.registered.model}@${options.registered.version} was trained on features ${options.registered.featureVersion}, but ${featureSet.id} computes version ${featureSet.version}`,
      `make a model trained on ${featureSet.version} live, or score with the feature set version the model was trained on`,
    );
  }
  checkFeatureNames(model, featureSet.featureNames);
  const width = featureSet.featureNames.length;
  const table = await describeFeatureTable(client, lifecycle.featuresTable);
  for (const column of [lifecycle.entityColumn, lifecycle.featuresTimeColumn, versionColumn]) {
    if (!table.columns.some((c) => c.name === column)) {
      throw new ConfigError('lifecycle', `features table ${lifecycle.featuresTable} has no column "${column}"`, `name one of its columns: ${table.columns.map((c) => c.name).join(', ')}`);
    }
  }
  const writer = await openBatchPredictionsTable(client, lifecycle.batchPredictionsTable, { maxRowsPerInsert: Math.min(100_000, Math.max(pageEntities, 10_000)) });
  const runId = randomUUID();
  const scoredAt = Math.trunc(options.now ?? Date.now());
  const label = `${model.name}@${model.version}`;
  const source = `${quoteTableName(lifecycle.featuresTable)}${table.replacing ? ' FINAL' : ''}`;
  const entity = quoteIdentifier(lifecycle.entityColumn);
  const where = `${quoteIdentifier(versionColumn)} = ${quoteString(featureSet.version)}`;
  // Sizes the pages only: approximate, and without FINAL (revisions do not change the entities).
  const [count] = await rows<{ n: unknown }>(client, `SELECT uniq(${entity}) AS n FROM ${quoteTableName(lifecycle.featuresTable)} WHERE ${where}`);
  const population = Number(count?.n ?? 0);
  const pages = Math.max(1, Math.ceil((population * 1.05) / pageEntities));
  options.logger?.info({ runId, model: label, featureSet: featureSet.id, population, pages }, `batch scoring about ${population} entities of ${lifecycle.featuresTable} with ${label}`);
  // The tuple keeps each row whole: per-column argMax could mix rows that tie on time.
  const tuple = `tuple(${table.columns.map((c) => quoteIdentifier(c.name)).join(', ')})`;
  const matrix = new Float32Array(chunkRows * width);
  let entities = 0;
  let skipped = 0;
  // A page's insert runs while the next page is read and scored; store writes run while the
  // next chunk is scored. At most one of each is in flight, so memory stays at about two pages.
  let inserting: Promise<void> = Promise.resolve();
  let storeWrite: Promise<void> = Promise.resolve();
  for (let page = 0; page < pages; page++) {
    const query = `SELECT argMax(${tuple}, ${quoteIdentifier(lifecycle.featuresTimeColumn)}) AS latest FROM ${source} WHERE ${where} AND cityHash64(${entity}) % ${pages} = ${page} GROUP BY ${entity}`;
    const features = (await rows<{ latest: unknown[] | Row }>(client, query)).map((r) => decodeRow(table.columns, r.latest));
    const out: BatchPredictionRow[] = [];
    for (let start = 0; start < features.length; start += chunkRows) {
      const chunk: Row[] = [];
      for (let i = start; i < Math.min(start + chunkRows, features.length); i++) {
        if (fill(matrix, chunk.length, width, featureSet.vector(features[i]), featureSet.id)) chunk.push(features[i]!);
        else skipped++;
      }
      const probabilities = await model.score(matrix, chunk.length);
      const entries: Array<[string, BatchPrediction]> = [];
      for (let i = 0; i < chunk.length; i++) {
        const probability = probabilities[i]!;
        if (!Number.isFinite(probability)) {
          skipped++;
          continue;
        }
        const row = chunk[i]!;
        const prediction: BatchPredictionRow = {
          entity: String(featureSet.entityId(row)),
          probability,
          model: label,
          modelVersion: model.version,
          featureVersion: featureSet.version,
          asOf: Number(row[lifecycle.featuresTimeColumn]),
          scoredAt,
          runId,
        };
        out.push(prediction);
        if (options.store) entries.push([batchPredictionKey(prediction.entity), storeValue(prediction)]);
      }
      // One pipeline (SET ... PX per key) per chunk.
      await storeWrite;
      if (options.store && entries.length > 0) storeWrite = handled(retry(() => options.store!.setMany(entries, storeTtlMs), storeRetry(entries.length)));
    }
    await inserting;
    inserting = handled(writer.insert(out));
    entities += out.length;
    options.onProgress?.({ page: page + 1, pages, entities, seconds: (performance.now() - started) / 1000 });
  }
  await Promise.all([inserting, storeWrite]);
  if (skipped > 0) options.logger?.warn({ runId, skipped }, `${skipped} entities had non-finite features or scores and were not written`);
  return { runId, scoredAt, entities, skipped, seconds: (performance.now() - started) / 1000 };
}

function storeRetry(keys: number) {
  return { what: `writing ${keys} batch predictions to the state store`, maxAttempts: 3, initialDelayMs: 500, maxDelayMs: 4_000 };
}

/** `write`, with its rejection marked handled until it is awaited (the run goes on meanwhile). */
function handled(write: Promise<void>): Promise<void> {
  write.catch(() => {});
  return write;
}

/** The store's value: what the fallback serves, without the table's bookkeeping columns. */
function storeValue(row: BatchPredictionRow): BatchPrediction {
  return { probability: row.probability, model: row.model, modelVersion: row.modelVersion, featureVersion: row.featureVersion, asOf: row.asOf, scoredAt: row.scoredAt };
}

/** Writes one row's vector into `matrix`; false (row skipped) when a value is not finite. */
function fill(matrix: Float32Array, row: number, width: number, vector: ArrayLike<number>, featureSet: string): boolean {
  if (vector.length !== width) {
    throw new TributaryError(`feature set ${featureSet}: vector() returned ${vector.length} values, but featureNames lists ${width}`, { code: 'FEATURE_VECTOR' });
  }
  const offset = row * width;
  for (let j = 0; j < width; j++) {
    const value = vector[j]!;
    if (!Number.isFinite(value)) return false;
    matrix[offset + j] = value;
  }
  return true;
}

/** A row as an object with numbers for numeric columns (the feature set's `vector` reads it). */
function decodeRow(columns: FeatureTable['columns'], latest: unknown[] | Row): Row {
  const values = Array.isArray(latest) ? latest : Object.values(latest);
  const row: Row = {};
  for (let i = 0; i < columns.length; i++) {
    const { name, numeric } = columns[i]!;
    const value = values[i];
    row[name] = numeric && typeof value === 'string' ? Number(value) : value;
  }
  return row;
}

async function describeFeatureTable(client: ClickHouseClient, table: string): Promise<FeatureTable> {
  const shape = await requireTableShape(client, table, 'lifecycle.featuresTable', 'run the topology (or a backfill) first so that its features sink creates and fills it');
  return {
    columns: [...shape.columns].map(([name, type]) => ({ name, numeric: isNumericType(type) })),
    // FINAL: the latest revision of each row, whether or not the server merged it yet.
    replacing: shape.final,
  };
}

function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return selectRows<T>(client, 'reading feature rows', query);
}

function positive(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(field, `${value} is not a positive whole number`, 'use e.g. 4096');
  return value;
}
