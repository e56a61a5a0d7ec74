import type { ClickHouseClient } from '@clickhouse/client';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { BaselineStore, readSidecarBaseline } from '../registry/baseline-store.ts';
import { baselineProblem } from '../registry/drift-baseline.ts';
import { DRIFT_PSI_THRESHOLD } from '../registry/drift-statistics.ts';
import { DriftTable } from '../registry/drift-table.ts';
import { OutcomesTable, type ModelOutcome } from '../registry/model-outcomes.ts';
import { DriftMonitor, type DriftOptions, type DriftResult } from './drift-monitor.ts';

/** Where a served model's quality data lives, and whether it watches drift (ServedModelOptions). */
export interface ModelQualityOptions {
  /** Drift baselines per version (default 'model_baselines'). */
  baselinesTable?: string;
  /** Drift monitoring of the live version's inputs and score; false turns it off. Default on, 1-minute buckets. */
  drift?: DriftOptions | false;
  /** Outcome metrics (`tributary models outcomes`) shown on the dashboard (default 'model_outcomes'). */
  outcomesTable?: string;
}

/** What the dashboard shows of a served model's quality (StatsSnapshot.quality). */
export interface ModelQualitySnapshot {
  model: string;
  /** The live version, and whether drift is watched for it (it has a baseline). */
  live: string | null;
  driftWatched: boolean;
  driftThreshold: number;
  /** Closed drift buckets, oldest first. */
  drift: readonly DriftResult[];
  /** Outcome metrics of the last days, newest first. */
  outcomes: readonly ModelOutcome[];
}

export interface QualityEnvironment {
  client: ClickHouseClient;
  logger: Logger;
  /** Drift is watched only with metrics and topology (an engine) and for online engines. */
  metrics?: Metrics;
  topology?: string;
  origin?: string;
}

const OUTCOME_POLL_MS = 60_000;
const OUTCOME_DAYS = 14;

/**
 * A served model's quality: its drift monitor (the live version's baseline from the registry's
 * baselines table, or from the model file's sidecar the first time a version is served), and the
 * outcome metrics the batch job wrote, read once a minute for the dashboard. Never fails serving:
 * problems are logged and the model is served without drift monitoring.
 */
export class ModelQuality {
  readonly monitor: DriftMonitor | undefined;
  private readonly baselines: BaselineStore;
  private readonly outcomesTable: OutcomesTable;
  private outcomes: ModelOutcome[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly model: string,
    private readonly featureNames: readonly string[],
    options: ModelQualityOptions,
    private readonly environment: QualityEnvironment,
  ) {
    const { client, metrics, topology, logger } = environment;
    this.baselines = new BaselineStore(client, options.baselinesTable);
    this.outcomesTable = new OutcomesTable(client, options.outcomesTable);
    const drift = options.drift;
    if (drift !== false && metrics !== undefined && topology !== undefined && (environment.origin ?? 'online') === 'online') {
      this.monitor = new DriftMonitor({ ...drift, topology, model, metrics, logger, writer: new DriftTable(client, drift?.table) });
    }
  }

  /** Reads the outcome metrics now and then once a minute (online engines only). */
  start(): void {
    if ((this.environment.origin ?? 'online') !== 'online') return;
    const read = () => void this.readOutcomes();
    read();
    this.timer = setInterval(read, OUTCOME_POLL_MS);
    this.timer.unref();
  }

  /**
   * Gives the drift monitor the baseline of `version` (file at `modelPath`): the registry's, else
   * the file's sidecar's, which is then stored in the registry. Without one, the version is served
   * unwatched (logged).
   */
  async loadBaseline(version: string, modelPath: string): Promise<void> {
    const monitor = this.monitor;
    if (monitor === undefined || monitor.watches(version)) return;
    const id = `${this.model}@${version}`;
    const { logger } = this.environment;
    try {
      let baseline = await this.baselines.get(this.model, version);
      if (baseline === undefined) {
        const fromFile = await readSidecarBaseline(modelPath);
        if (fromFile !== undefined) baseline = await this.baselines.save(this.model, version, fromFile, 'model file sidecar');
      }
      if (baseline === undefined) {
        logger.warn({ model: id, table: this.baselines.table }, `${id} has no drift baseline: its drift is not watched (train it with tributary train, which stores one)`);
        return;
      }
      const problem = baselineProblem(baseline, this.featureNames);
      if (problem !== undefined) {
        logger.warn({ model: id, problem }, `${id}'s drift baseline does not fit its features (${problem}): its drift is not watched`);
        return;
      }
      monitor.setBaseline(version, baseline);
      logger.info({ model: id, rows: baseline.rows, source: baseline.source }, `watching drift of ${id} against its baseline`);
    } catch (error) {
      logger.warn({ model: id, err: errorMessage(error) }, `reading the drift baseline of ${id} failed: its drift is not watched`);
    }
  }

  snapshot(live: string | undefined): ModelQualitySnapshot {
    return {
      model: this.model,
      live: live ?? null,
      driftWatched: live !== undefined && this.monitor?.watches(live) === true,
      driftThreshold: DRIFT_PSI_THRESHOLD,
      drift: this.monitor?.recent() ?? [],
      outcomes: this.outcomes,
    };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.monitor?.close();
  }

  private async readOutcomes(): Promise<void> {
    try {
      const since = Math.floor(Date.now() / 86_400_000 - OUTCOME_DAYS) * 86_400_000;
      this.outcomes = await this.outcomesTable.read(this.model, { sinceDayStart: since });
    } catch (error) {
      this.environment.logger.debug({ table: this.outcomesTable.table, err: errorMessage(error) }, 'reading outcome metrics failed');
    }
  }
}
