import type { ClickHouseClient } from '@clickhouse/client';
import { createTableSql, type ColumnDef } from '../clickhouse/create-table.ts';
import { detectDialect, directInsertSettings } from '../clickhouse/dialect.ts';
import { quoteTableName } from '../clickhouse/sql.ts';

/**
 * The drift table (`model_drift`): one row per closed time bucket, model version and histogram
 * (each model input, then 'score'), with the live counts per bin, the baseline's counts over the
 * same bins, and the PSI and KS distance between them. Anyone can recompute PSI and KS from
 * `counts` and `baselineCounts` (drift-statistics.ts says how). Plain MergeTree: an engine that
 * restarts mid-bucket writes that bucket again, with the rows it saw after the restart, and
 * several engine processes (scale-out) each write their share of a bucket.
 */

const COLUMNS: ColumnDef[] = [
  { name: 'topology', type: 'String' },
  { name: 'model', type: 'String' },
  { name: 'version', type: 'String' },
  { name: 'feature', type: 'String', comment: "Model input name, or 'score'" },
  { name: 'bucketStart', type: 'Int64', comment: 'Event time, epoch ms: rows with event time in [bucketStart, bucketEnd)' },
  { name: 'bucketEnd', type: 'Int64' },
  { name: 'bucketStart_time', type: 'DateTime', alias: 'toDateTime(intDiv(`bucketStart`, 1000))' },
  { name: 'rows', type: 'UInt64', comment: 'Rows the live model scored in the bucket' },
  { name: 'psi', type: 'Float64', comment: 'Population stability index against the baseline (shares floored at 1e-4)' },
  { name: 'ks', type: 'Float64', comment: 'Kolmogorov-Smirnov distance of the binned distributions' },
  { name: 'counts', type: 'Array(UInt64)', comment: 'Live rows per bin' },
  { name: 'baselineCounts', type: 'Array(UInt64)', comment: "Training rows per bin (the version's baseline)" },
  { name: 'writtenAt', type: 'Int64', comment: 'Epoch ms' },
];

export interface DriftRow {
  topology: string;
  model: string;
  version: string;
  feature: string;
  bucketStart: number;
  bucketEnd: number;
  rows: number;
  psi: number;
  ks: number;
  counts: number[];
  baselineCounts: number[];
  writtenAt: number;
}

export class DriftTable {
  private readonly quoted: string;
  private opened: Promise<void> | undefined;

  constructor(
    private readonly client: ClickHouseClient,
    readonly table = 'model_drift',
  ) {
    this.quoted = quoteTableName(table);
  }

  open(): Promise<void> {
    this.opened ??= (async () => {
      const dialect = await detectDialect(this.client);
      await this.client.command({ query: createTableSql(this.table, COLUMNS, { orderBy: ['model', 'bucketStart', 'feature'], dialect }) });
    })();
    this.opened.catch(() => (this.opened = undefined));
    return this.opened;
  }

  /** One insert of closed buckets (never empty ones: their PSI and KS are finite). */
  async insert(rows: readonly DriftRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.open();
    const dialect = await detectDialect(this.client);
    await this.client.insert({ table: this.quoted, values: rows as DriftRow[], format: 'JSONEachRow', clickhouse_settings: directInsertSettings(dialect) });
  }
}
