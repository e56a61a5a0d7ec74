import type { ClickHouseClient } from '@clickhouse/client';
import { createTableSql, type ColumnDef } from '../clickhouse/create-table.ts';
import { detectDialect, directInsertSettings } from '../clickhouse/dialect.ts';
import { quoteString, quoteTableName } from '../clickhouse/sql.ts';
import { readTableShape } from '../clickhouse/table-shape.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';
import { lifecycleTableShape } from './compare-report.ts';
import { ConfigError } from '../core/errors.ts';
import { outcomesSql, type OutcomeQuery } from './outcomes-sql.ts';

/** One model version's outcome metrics for one UTC day of predictions (outcomes-sql.ts defines them). */
export interface ModelOutcome {
  model: string;
  version: string;
  /** UTC midnight of the day, epoch ms, and the day as YYYY-MM-DD. */
  dayStart: number;
  day: string;
  rows: number;
  positives: number;
  /** Null with one class only. */
  auc: number | null;
  logLoss: number;
  ece: number;
  precisionAtK: number;
  /** The k used: min(k asked for, rows). */
  k: number;
  /** When the figures were computed, epoch ms (labels may still arrive for recent days). */
  computedAt: number;
}

export interface OutcomeOptions {
  /** Prediction time range [from, to), epoch ms; default all. */
  from?: number;
  to?: number;
  /** Precision at k (default 100). */
  k?: number;
}

/** The outcome query for a topology's lifecycle, with FINAL, origin and source from the predictions table itself. */
export async function outcomeQueryFor(client: ClickHouseClient, spec: LifecycleSpec, options: OutcomeOptions = {}): Promise<OutcomeQuery> {
  const predictions = await lifecycleTableShape(client, spec.predictionsTable);
  const missing = [spec.entityColumn, spec.featuresTimeColumn, 'model', 'probability'].filter((c) => !predictions.columns.has(c));
  if (missing.length > 0) throw new ConfigError(`table ${spec.predictionsTable}`, `has no column ${missing.join(', ')}`, "create it from the topology's prediction schema, or fix the lifecycle's table and column names");
  await lifecycleTableShape(client, spec.labels.table); // a missing labels table fails here, by name
  return {
    predictionsTable: spec.predictionsTable,
    entityColumn: spec.entityColumn,
    timeColumn: spec.featuresTimeColumn,
    model: spec.model,
    labels: spec.labels,
    from: options.from,
    to: options.to,
    k: options.k,
    final: predictions.final,
    // Only what the version served online: not a backfill's copy, not a fallback's prior.
    ...(predictions.columns.has('origin') ? { origin: 'online' } : {}),
    ...(predictions.columns.has('source') ? { source: 'model' } : {}),
  };
}

/** Computes the outcome metrics (one query on the server); does not store them. */
export async function computeOutcomes(client: ClickHouseClient, spec: LifecycleSpec, options: OutcomeOptions = {}, computedAt = Date.now()): Promise<ModelOutcome[]> {
  const sql = outcomesSql(await outcomeQueryFor(client, spec, options));
  const rows = await (await client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
  return rows.map((row) => toOutcome(row, computedAt));
}

const COLUMNS: ColumnDef[] = [
  { name: 'model', type: 'String' },
  { name: 'version', type: 'String' },
  { name: 'dayStart', type: 'Int64', comment: 'UTC day of the predictions, epoch ms of its midnight' },
  { name: 'day', type: 'Date', alias: "toDate(toDateTime(intDiv(`dayStart`, 1000)), 'UTC')" },
  { name: 'rows', type: 'UInt64', comment: 'Predictions the version served that day' },
  { name: 'positives', type: 'UInt64', comment: 'Of them, labelled positive (a label within the window before the prediction)' },
  { name: 'auc', type: 'Float64', comment: 'ROC AUC, ties one half; nan with one class only' },
  { name: 'logLoss', type: 'Float64' },
  { name: 'ece', type: 'Float64', comment: 'Expected calibration error, 10 equal-width bins' },
  { name: 'precisionAtK', type: 'Float64', comment: 'Share of positives among the k highest scores (ties in proportion)' },
  { name: 'k', type: 'UInt64' },
  { name: 'computedAt', type: 'Int64', comment: 'When computed, epoch ms: the latest per version and day is kept' },
];

/**
 * The outcomes table (`model_outcomes`): ReplacingMergeTree(computedAt) by model, version and
 * day, so each run's figures replace the previous run's for the same day (read with FINAL).
 */
export class OutcomesTable {
  private readonly quoted: string;
  private opened: Promise<void> | undefined;

  constructor(
    private readonly client: ClickHouseClient,
    readonly table = 'model_outcomes',
  ) {
    this.quoted = quoteTableName(table);
  }

  open(): Promise<void> {
    this.opened ??= (async () => {
      const dialect = await detectDialect(this.client);
      await this.client.command({ query: createTableSql(this.table, COLUMNS, { orderBy: ['model', 'version', 'dayStart'], replacing: { version: 'computedAt' }, dialect }) });
    })();
    this.opened.catch(() => (this.opened = undefined));
    return this.opened;
  }

  async write(outcomes: readonly ModelOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    await this.open();
    // NaN (AUC with one class) as the literal nan: JSON has no NaN.
    const values = outcomes.map(({ day: _day, auc, ...rest }) => ({ ...rest, auc: auc ?? 'nan' }));
    const dialect = await detectDialect(this.client);
    await this.client.insert({ table: this.quoted, values, format: 'JSONEachRow', clickhouse_settings: directInsertSettings(dialect) });
  }

  /** The latest figures per version and day for `model`, newest day first; [] while the table does not exist. */
  async read(model: string, options: { sinceDayStart?: number } = {}): Promise<ModelOutcome[]> {
    if ((await readTableShape(this.client, this.table)) === undefined) return [];
    const since = options.sinceDayStart === undefined ? '' : ` AND dayStart >= ${Math.trunc(options.sinceDayStart)}`;
    const query = `SELECT model, version, dayStart, rows, positives, auc, logLoss, ece, precisionAtK, k, computedAt FROM ${this.quoted} FINAL WHERE model = ${quoteString(model)}${since} ORDER BY dayStart DESC, version`;
    const rows = await (await this.client.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>();
    return rows.map((row) => toOutcome(row, Number(row.computedAt)));
  }
}

/** 64-bit integers may come back quoted (18.16), NaN as null or 'nan'. */
function toOutcome(row: Record<string, unknown>, computedAt: number): ModelOutcome {
  const float = (value: unknown) => (value === null || value === undefined || value === 'nan' ? Number.NaN : Number(value));
  const dayStart = Number(row.dayStart);
  const auc = float(row.auc);
  return {
    model: String(row.model),
    version: String(row.version),
    dayStart,
    day: new Date(dayStart).toISOString().slice(0, 10),
    rows: Number(row.rows),
    positives: Number(row.positives),
    auc: Number.isNaN(auc) ? null : auc,
    logLoss: float(row.logLoss),
    ece: float(row.ece),
    precisionAtK: float(row.precisionAtK),
    k: Number(row.k),
    computedAt,
  };
}
