import type { ClickHouseClient } from '@clickhouse/client';
import {
  batchPredictionsVersion,
  createBatchPredictionsTable,
  readLatestBatchPredictions,
  type BatchPrediction,
  type BatchPredictionRow,
  type BatchPredictionsVersion,
} from './batch-predictions-table.ts';
import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { quoteTableName } from '../clickhouse/sql.ts';
import { LookupTable } from './lookup-table.ts';
import { tableMetrics } from './table-metrics.ts';
import type { RunningTableSource, TableEnvironment, TableSource } from './table-source.ts';

export type { BatchPrediction } from './batch-predictions-table.ts';

export interface BatchPredictionTableOptions {
  /** The lookup table's name (metrics, logs), e.g. 'batch-predictions'. */
  name: string;
  /** The ClickHouse table `tributary score-batch` writes (LifecycleSpec.batchPredictionsTable). */
  table: string;
  /** How often to check for a new run (default '30s'); the table reloads only when there is one. */
  refresh?: Duration;
  /** Entries expire this long after their run's scoredAt (default: never; a newer run replaces them). */
  ttl?: Duration | false;
  /** Entities per ClickHouse read (default 100,000). */
  pageEntities?: number;
}

/**
 * The latest batch prediction per entity, in memory, for the score operator's fallback: loaded
 * from ClickHouse when the engine starts (start() resolves once it is loaded) and refreshed
 * every `refresh` when a run added rows. Look entries up by FeatureSet.entityId.
 *
 * Memory: about 250 bytes of heap per entity on Node 20, measured with 200k entities (key string,
 * Map entry, entry and value objects, boxed numbers; model and version strings are shared), so
 * ~250 MB per million entities. A load reads 100k entities per query, so it adds little on top.
 *
 * @example
 * const batch = batchPredictionTable({ name: 'batch-predictions', table: 'batch_predictions' });
 * defineTopology({ ..., tables: [batch], pipeline: ... fallback: (f) => batch.get(f.cardId) ... });
 */
export function batchPredictionTable(options: BatchPredictionTableOptions): LookupTable<BatchPrediction> {
  const field = `tables.${String(options.name)}`;
  if (typeof options.table !== 'string' || options.table === '') throw new ConfigError(`${field}.table`, 'no ClickHouse table given', "set batchPredictionTable({ table: 'batch_predictions', ... })");
  quoteTableName(options.table);
  const refreshMs = toMillis(options.refresh ?? '30s', `${field}.refresh`);
  if (refreshMs < 100) throw new ConfigError(`${field}.refresh`, `${refreshMs} ms is too short`, "use e.g. '30s' (a check is one small query)");
  return new LookupTable<BatchPrediction>({ name: options.name, ttl: options.ttl }, new ClickHouseBatchPredictionSource(options.table, refreshMs, options.pageEntities));
}

/** A TableSource over a batch predictions table in ClickHouse (the engine's shared client). */
export class ClickHouseBatchPredictionSource implements TableSource<BatchPrediction> {
  readonly description: string;

  constructor(
    private readonly table: string,
    private readonly refreshMs: number,
    private readonly pageEntities?: number,
  ) {
    this.description = `ClickHouse batch predictions ${table}`;
  }

  async start(table: LookupTable<BatchPrediction>, environment: TableEnvironment): Promise<RunningTableSource> {
    if (environment.clickhouse === undefined) {
      throw new ConfigError(`tables.${table.name}`, `reads ClickHouse table ${this.table}, but the engine gave its tables no ClickHouse client`, 'start it in an engine that passes TableEnvironment.clickhouse, or fill a lookupTable() with apply() instead');
    }
    const client = await environment.clickhouse();
    const logger = environment.logger.child({ table: table.name, clickhouseTable: this.table });
    const metrics = tableMetrics(environment.metrics);
    const labels = { topology: environment.topology, table: table.name };
    // Created if absent, so an engine starts (with an empty table) before the first batch run.
    await createBatchPredictionsTable(client, this.table);
    const loader = new Loader(client, this.table, table, logger, this.pageEntities, (n) => metrics.updates.inc(labels, n));
    await loader.refresh();
    const untrack = metrics.track(labels, table as LookupTable<unknown>);
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> = Promise.resolve();
    let closed = false;
    const schedule = () => {
      timer = setTimeout(() => {
        // A failed refresh keeps the table as it is: the fallback must outlive a ClickHouse blip.
        running = loader.refresh().catch((error) => logger.warn({ err: errorMessage(error) }, `refreshing table ${table.name} from ${this.table} failed; keeping the predictions loaded before`));
        void running.then(() => closed || schedule());
      }, this.refreshMs);
      timer.unref();
    };
    schedule();
    return {
      close: async () => {
        closed = true;
        clearTimeout(timer);
        await running;
        untrack();
      },
    };
  }
}

/** Loads a whole table once, then only the runs that came after (scoredAt >= the newest seen). */
class Loader {
  private loaded: BatchPredictionsVersion | undefined;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly source: string,
    private readonly table: LookupTable<BatchPrediction>,
    private readonly logger: Logger,
    private readonly pageEntities: number | undefined,
    private readonly counted: (updates: number) => void,
  ) {}

  /**
   * Reloads when max(scoredAt) or the row count changed. The count catches a run still being
   * written (its scoredAt is set at its start, while its rows keep arriving); rows of the
   * newest run seen are read again, which applies the same values. A table that shrank
   * (partitions dropped) is read whole and replaces the table at once.
   */
  async refresh(): Promise<void> {
    const version = await batchPredictionsVersion(this.client, this.source);
    const before = this.loaded;
    if (before !== undefined && version.maxScoredAt === before.maxScoredAt && version.rows === before.rows) return;
    const started = performance.now();
    const whole = before === undefined || version.rows < before.rows || version.maxScoredAt < before.maxScoredAt;
    const since = whole ? 0 : before.maxScoredAt;
    // A replacement is staged, so lookups never see a half-loaded table; the first load and
    // incremental ones apply page by page (newer values over older ones, nothing missing).
    const staged: BatchPredictionRow[] | undefined = whole && before !== undefined ? [] : undefined;
    const entities = await readLatestBatchPredictions(this.client, this.source, {
      since,
      pageEntities: this.pageEntities,
      onPage: (rows) => (staged ? rows.forEach((row) => staged.push(row)) : this.apply(rows)),
    });
    if (staged) {
      this.table.clear();
      this.apply(staged);
    }
    this.loaded = version;
    this.logger.info(
      { entities, since, entries: this.table.size, maxScoredAt: version.maxScoredAt, ms: Math.round(performance.now() - started) },
      `table ${this.table.name}: loaded ${entities} batch predictions from ${this.source}${since > 0 ? ` scored since ${new Date(since).toISOString()}` : ''}`,
    );
  }

  private apply(rows: readonly BatchPredictionRow[]): void {
    for (const row of rows) {
      const value: BatchPrediction = { probability: row.probability, model: row.model, modelVersion: row.modelVersion, featureVersion: row.featureVersion, asOf: row.asOf, scoredAt: row.scoredAt };
      // Updated at scoredAt: a TTL counts from when the prediction was made, not when loaded.
      this.table.apply(row.entity, value, row.scoredAt);
    }
    this.counted(rows.length);
    this.table.maintain();
  }
}
