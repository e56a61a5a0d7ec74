import type { ClickHouseClient } from '@clickhouse/client';
import { requireTableShape, type TableShape } from '../clickhouse/table-shape.ts';
import { toMillis } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { quoteIdentifier, quoteString, quoteTableName } from '../clickhouse/sql.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';

/**
 * Live vs candidate on the same records: while a canary or shadow runs, every prediction row
 * carries the served model's probability and the challenger's (challengerModel,
 * challengerProbability). The report compares the two on exactly those rows, per (served,
 * challenger) pair: a canary yields two pairs (live serving most keys, the canary the rest).
 * One SQL statement (compareSql) computes it on the server; it runs on 18.16 (no window
 * functions, one JOIN per SELECT, ANY LEFT JOIN ... USING), current servers and chDB.
 */
export interface CompareOptions {
  predictionsTable: string;
  /** The predictions' entity and time (epoch ms) columns, e.g. cardId and windowEnd. */
  entityColumn: string;
  timeColumn: string;
  /** Model name: rows where both models are `<model>@<version>`. */
  model: string;
  /** With labels, a row is positive when its entity has a label with time in [row time - window, row time). */
  labels?: LifecycleSpec['labels'];
  /** Row time range [from, to), epoch ms. */
  from?: number;
  to?: number;
  /** Read the predictions with FINAL (a ReplacingMergeTree: the latest revision per row). Default true. */
  final?: boolean;
  /**
   * Only rows of this origin (the table's `origin` column: 'online', or 'backfill' for rows a
   * backfill wrote next to them); default all rows. compareModels sets 'online' where the
   * column exists, so a backfilled copy of a row is not counted twice.
   */
  origin?: string;
}

export interface ModelComparison {
  /** The model that was served for these rows, and the one scored next to it (name@version). */
  served: string;
  challenger: string;
  rows: number;
  servedMean: number;
  challengerMean: number;
  meanAbsDiff: number;
  /** Share of rows where both are on the same side of 0.5. */
  agreement: number;
  /** With labels: positive rows, and each model's AUC and log loss (null where undefined: one class only). */
  positives?: number;
  servedAuc?: number | null;
  challengerAuc?: number | null;
  servedLogLoss?: number | null;
  challengerLogLoss?: number | null;
}

/** The comparison options for a topology's lifecycle: its predictions table, columns and labels. */
export function compareOptionsFor(spec: LifecycleSpec, range: { from?: number; to?: number } = {}): CompareOptions {
  return { predictionsTable: spec.predictionsTable, entityColumn: spec.entityColumn, timeColumn: spec.featuresTimeColumn, model: spec.model, labels: spec.labels, ...range };
}

/** Log loss clips probabilities to [1e-15, 1 - 1e-15], as src/scoring/classification-metrics.ts does. */
const CLIPPED = 'least(1 - 1e-15, greatest(1e-15, score))';

/**
 * The report's SQL. Levels, innermost first: the compared rows (with their label); each row
 * twice, once per model (side 1 served, 2 challenger), grouped by score; per side the counts,
 * means, log loss and the AUC from the ROC curve over distinct scores (ties count one half, as
 * in rocAuc); finally one row per pair.
 */
export function compareSql(options: CompareOptions): string {
  const labelled = options.labels !== undefined;
  const entity = quoteIdentifier(options.entityColumn);
  const time = quoteIdentifier(options.timeColumn);
  const prefix = `${options.model}@`;
  const samePrefix = (column: string) => `substring(${column}, 1, ${Buffer.byteLength(prefix)}) = ${quoteString(prefix)}`;
  const range = [
    options.from === undefined ? '' : `${time} >= ${int(options.from)}`,
    options.to === undefined ? '' : `${time} < ${int(options.to)}`,
    options.origin === undefined ? '' : `origin = ${quoteString(options.origin)}`,
  ].filter(Boolean);
  const predictions = [
    `SELECT ${entity}, ${time}, model, challengerModel, probability, challengerProbability`,
    `FROM ${quoteTableName(options.predictionsTable)}${options.final === false ? '' : ' FINAL'}`,
    `WHERE challengerModel != '' AND isNotNull(challengerProbability) AND ${[samePrefix('model'), samePrefix('challengerModel'), ...range].join(' AND ')}`,
  ].join('\n        ');
  let rows: string;
  if (options.labels) {
    const window = toMillis(options.labels.window, 'labels.window');
    const labelTime = quoteIdentifier(options.labels.timeColumn);
    const labelRange = [options.from === undefined ? '' : `${labelTime} >= ${int(options.from - window)}`, options.to === undefined ? '' : `${labelTime} < ${int(options.to)}`].filter(Boolean);
    // The row time goes into the lambda as an argument (replicate), not captured: 18.16 prunes
    // subquery columns that only a lambda body uses.
    rows = `
    SELECT served, challenger, p, q, arrayExists((t, rowTime) -> t >= rowTime - ${window} AND t < rowTime, labelTimes, replicate(rowTime, labelTimes)) AS label
    FROM
    (
      SELECT model AS served, challengerModel AS challenger, probability AS p, ifNull(challengerProbability, 0) AS q, ${time} AS rowTime, labelTimes
      FROM
      (
        ${predictions}
      ) AS compared
      ANY LEFT JOIN
      (
        SELECT ${quoteIdentifier(options.labels.entityColumn)} AS ${entity}, groupArray(${labelTime}) AS labelTimes
        FROM ${quoteTableName(options.labels.table)}${labelRange.length > 0 ? `\n        WHERE ${labelRange.join(' AND ')}` : ''}
        GROUP BY ${entity}
      ) AS labelled USING ${entity}
    )`;
  } else {
    rows = `
    SELECT model AS served, challengerModel AS challenger, probability AS p, ifNull(challengerProbability, 0) AS q, toUInt8(0) AS label
    FROM
    (
        ${predictions}
    )`;
  }
  const perSide = [
    'sum(cnt) AS rowCount',
    'sum(score * cnt) / rowCount AS mean',
    'sum(diffSum) / rowCount AS diffMean',
    'sum(agreeSum) / rowCount AS agreeShare',
    ...(labelled
      ? [
          'sum(pos) AS positiveCount',
          `-sum(pos * log(${CLIPPED}) + (cnt - pos) * log(1 - ${CLIPPED})) / rowCount AS logLossValue`,
          'arraySort(groupArray((score, pos, cnt - pos))) AS curve',
          'arrayCumSum(arrayMap(point -> tupleElement(point, 3), curve)) AS negativesUpTo',
          'if(positiveCount = 0 OR positiveCount = rowCount, nan, arraySum(arrayMap((point, below) -> tupleElement(point, 2) * (below - tupleElement(point, 3) / 2), curve, negativesUpTo)) / (positiveCount * (rowCount - positiveCount))) AS aucValue',
        ]
      : []),
  ];
  const report = [
    'anyIf(rowCount, side = 1) AS rows',
    'anyIf(mean, side = 1) AS servedMean',
    'anyIf(mean, side = 2) AS challengerMean',
    'anyIf(diffMean, side = 1) AS meanAbsDiff',
    'anyIf(agreeShare, side = 1) AS agreement',
    ...(labelled
      ? ['anyIf(positiveCount, side = 1) AS positives', 'anyIf(aucValue, side = 1) AS servedAuc', 'anyIf(aucValue, side = 2) AS challengerAuc', 'anyIf(logLossValue, side = 1) AS servedLogLoss', 'anyIf(logLossValue, side = 2) AS challengerLogLoss']
      : []),
  ];
  return `SELECT served, challenger,
  ${report.join(',\n  ')}
FROM
(
  SELECT served, challenger, side,
    ${perSide.join(',\n    ')}
  FROM
  (
    SELECT served, challenger, side, score, count() AS cnt, sum(label) AS pos, sum(abs(p - q)) AS diffSum, sum((p >= 0.5) = (q >= 0.5)) AS agreeSum
    FROM
    (
      SELECT served, challenger, p, q, label, arrayJoin([1, 2]) AS side, if(side = 1, p, q) AS score
      FROM
      (${rows}
      )
    )
    GROUP BY served, challenger, side, score
  )
  GROUP BY served, challenger, side
)
GROUP BY served, challenger
ORDER BY rows DESC, served, challenger`;
}

/**
 * Runs the report. Checks first that the tables exist; reads a replacing table with FINAL, and
 * only its online rows where it has an origin column.
 */
export async function compareModels(client: ClickHouseClient, options: CompareOptions): Promise<ModelComparison[]> {
  const sql = compareSql(await resolvedCompareOptions(client, options));
  const result = await client.query({ query: sql, format: 'JSONEachRow' });
  return (await result.json<Record<string, unknown>>()).map((row) => toComparison(row, options.labels !== undefined));
}

/** `final` and `origin` from the tables themselves, where the caller left them out. */
export async function resolvedCompareOptions(client: ClickHouseClient, options: CompareOptions): Promise<CompareOptions> {
  const predictions = await lifecycleTableShape(client, options.predictionsTable);
  const missing = [options.entityColumn, options.timeColumn, 'model', 'probability', 'challengerModel', 'challengerProbability'].filter((c) => !predictions.columns.has(c));
  if (missing.length > 0) {
    throw new ConfigError(`table ${options.predictionsTable}`, `has no column ${missing.join(', ')}`, 'create it from schemas/fraud_prediction.avsc as it is now (an older table lacks the challenger columns: ALTER TABLE ... ADD COLUMN), or fix the lifecycle\'s table and column names');
  }
  if (options.labels) await lifecycleTableShape(client, options.labels.table); // a missing labels table fails here, by name
  return {
    ...options,
    final: options.final ?? predictions.final,
    ...(options.origin === undefined && predictions.columns.has('origin') ? { origin: 'online' } : {}),
  };
}

/** The shape of a table a lifecycle job reads; a ConfigError naming it when it does not exist. */
export function lifecycleTableShape(client: ClickHouseClient, table: string): Promise<TableShape> {
  return requireTableShape(client, table, `table ${table}`, "run the topology that writes it first (its sinks create it), or fix the table name in the topology's lifecycle");
}

function toComparison(row: Record<string, unknown>, labelled: boolean): ModelComparison {
  const float = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  const comparison: ModelComparison = {
    served: String(row.served),
    challenger: String(row.challenger),
    rows: Number(row.rows),
    servedMean: Number(row.servedMean),
    challengerMean: Number(row.challengerMean),
    meanAbsDiff: Number(row.meanAbsDiff),
    agreement: Number(row.agreement),
  };
  if (labelled) {
    Object.assign(comparison, {
      positives: Number(row.positives),
      servedAuc: float(row.servedAuc),
      challengerAuc: float(row.challengerAuc),
      servedLogLoss: float(row.servedLogLoss),
      challengerLogLoss: float(row.challengerLogLoss),
    });
  }
  return comparison;
}

function int(value: number): string {
  if (!Number.isFinite(value)) throw new ConfigError('time range', `${value} is not a time`, 'give epoch milliseconds or an ISO date');
  return String(Math.trunc(value));
}
