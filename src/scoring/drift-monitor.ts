import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { retry } from '../core/retry.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { DriftBaseline } from '../registry/drift-baseline.ts';
import { binnedKsDistance, populationStabilityIndex } from '../registry/drift-statistics.ts';
import type { DriftRow, DriftTable } from '../registry/drift-table.ts';
import { DriftBuckets, type ClosedBucket } from './drift-buckets.ts';
import type { ScoringObserver, WatermarkHandle } from './model-serving.ts';
import type { ScoringModel } from './scoring-model.ts';

/** How a served model watches its inputs and score for drift (ServedModelOptions.drift). */
export interface DriftOptions {
  /** The ClickHouse table of closed buckets (default 'model_drift'). */
  table?: string;
  /** Event-time bucket (default '1m'). */
  bucket?: Duration;
  /**
   * A bucket closes once the watermark at the score step is this far past its end (default one
   * bucket): rows arriving later (revisions, partitions far behind) are counted as late.
   */
  closeAfter?: Duration;
  /** Buckets with fewer rows are written to the table but do not move the gauges (default 100): a handful of rows says little. */
  minRows?: number;
}

/** One closed bucket's drift, per histogram. */
export interface DriftResult {
  model: string;
  version: string;
  bucketStart: number;
  bucketEnd: number;
  rows: number;
  features: Array<{ name: string; psi: number; ks: number }>;
}

export interface DriftMonitorOptions extends Omit<DriftOptions, 'table'> {
  topology: string;
  /** The model's name in the registry. */
  model: string;
  metrics: Metrics;
  logger: Logger;
  /** Where closed buckets are written; none: metrics and dashboard only. */
  writer?: Pick<DriftTable, 'insert' | 'table'>;
}

/** Closed buckets kept for the dashboard. */
const RECENT = 60;

/**
 * Drift of one served model: the live version's inputs and scores are counted per event-time
 * bucket into the bins of the version's baseline (per scored micro-batch, see drift-buckets.ts);
 * when the watermark behind which every row was counted (lowestWatermark) passes a bucket's end
 * plus `closeAfter`, the bucket's PSI and KS distance per histogram are
 * computed, exported as gauges, kept for the dashboard and written to the drift table. Shared by
 * the score steps of every partition task of an engine.
 */
export class DriftMonitor implements ScoringObserver {
  private readonly bucketMs: number;
  private readonly closeAfterMs: number;
  private readonly minRows: number;
  private readonly byVersion = new Map<string, DriftBuckets>();
  private readonly handles = new Set<{ watermark: number }>();
  private readonly results: DriftResult[] = [];
  private writes: Promise<void> = Promise.resolve();
  private readonly stop = new AbortController();
  private earliestEnd = Infinity;
  private topologyWatermark: () => number = () => Infinity;

  constructor(private readonly options: DriftMonitorOptions) {
    this.bucketMs = toMillis(options.bucket ?? '1m', 'drift.bucket');
    this.closeAfterMs = options.closeAfter === undefined ? this.bucketMs : toMillis(options.closeAfter, 'drift.closeAfter');
    this.minRows = options.minRows ?? 100;
    if (!(this.bucketMs >= 1_000)) throw new ConfigError('drift.bucket', `${options.bucket} is shorter than a second`, "use e.g. '1m'");
    if (!(Number.isInteger(this.minRows) && this.minRows >= 1)) throw new ConfigError('drift.minRows', `${this.minRows} is not a number of rows`, 'use a whole number >= 1, e.g. 100');
  }

  /** The baseline of a version (from the registry), or undefined: that version is not watched. */
  setBaseline(version: string, baseline: DriftBaseline | undefined): void {
    if (baseline === undefined) this.byVersion.delete(version);
    else if (this.byVersion.get(version)?.baseline !== baseline) this.byVersion.set(version, new DriftBuckets(baseline, this.bucketMs));
  }

  watches(version: string): boolean {
    return this.byVersion.has(version);
  }

  observe(model: ScoringModel, features: Float32Array, rows: number, width: number, scores: Float32Array, eventTimes: Float64Array): void {
    const buckets = this.byVersion.get(model.version);
    if (buckets === undefined) return;
    const late = buckets.observe(features, rows, width, scores, eventTimes);
    if (late > 0) this.options.metrics.driftLateRows.inc({ topology: this.options.topology, model: this.options.model }, late);
    if (rows > late) this.earliestEnd = Math.min(this.earliestEnd, buckets.earliestOpenEnd);
  }

  attach(topologyWatermark?: () => number): WatermarkHandle {
    if (topologyWatermark !== undefined) this.topologyWatermark = topologyWatermark;
    const handle = { watermark: -Infinity };
    this.handles.add(handle);
    return {
      advance: (watermark) => {
        if (!(watermark > handle.watermark)) return;
        handle.watermark = watermark;
        // Cheap until some bucket can close: one comparison per batch.
        if (watermark - this.closeAfterMs >= this.earliestEnd) this.closeUpTo(this.lowestWatermark() - this.closeAfterMs);
      },
      detach: () => void this.handles.delete(handle),
    };
  }

  /** The latest closed buckets, oldest first (for the dashboard). */
  recent(): readonly DriftResult[] {
    return this.results;
  }

  /** Waits for the writes of closed buckets (at most `timeoutMs`), then gives up retrying. */
  async close(timeoutMs = 5_000): Promise<void> {
    const timer = setTimeout(() => this.stop.abort(), timeoutMs);
    await this.writes;
    clearTimeout(timer);
  }

  /**
   * Where every row has been counted: the lowest watermark any score step emitted (a step that
   * attached but emitted nothing yet holds everything back), and not beyond the topology's
   * watermark, which covers the partitions whose score step has not seen a batch yet.
   */
  private lowestWatermark(): number {
    let lowest = this.topologyWatermark();
    for (const handle of this.handles) if (handle.watermark < lowest) lowest = handle.watermark;
    return lowest;
  }

  private closeUpTo(upTo: number): void {
    if (!Number.isFinite(upTo)) return;
    this.earliestEnd = Infinity;
    const rows: DriftRow[] = [];
    for (const [version, buckets] of this.byVersion) {
      for (const bucket of buckets.close(upTo)) rows.push(...this.report(version, buckets, bucket));
      this.earliestEnd = Math.min(this.earliestEnd, buckets.earliestOpenEnd);
    }
    if (rows.length > 0) this.write(rows);
  }

  private report(version: string, buckets: DriftBuckets, bucket: ClosedBucket): DriftRow[] {
    const { topology, model, metrics } = this.options;
    const writtenAt = Date.now();
    const result: DriftResult = { model, version, bucketStart: bucket.start, bucketEnd: bucket.end, rows: bucket.rows, features: [] };
    const rows: DriftRow[] = [];
    buckets.baseline.features.forEach((feature, f) => {
      const offset = buckets.offsets[f]!;
      const psi = populationStabilityIndex(bucket.counts, feature.counts, offset, feature.counts.length);
      const ks = binnedKsDistance(bucket.counts, feature.counts, offset, feature.counts.length);
      result.features.push({ name: feature.name, psi, ks });
      rows.push({ topology, model, version, feature: feature.name, bucketStart: bucket.start, bucketEnd: bucket.end, rows: bucket.rows, psi, ks, counts: Array.from(bucket.counts.subarray(offset, offset + feature.counts.length)), baselineCounts: feature.counts, writtenAt });
      if (bucket.rows >= this.minRows) {
        metrics.driftPsi.set({ topology, model, feature: feature.name }, psi);
        metrics.driftKs.set({ topology, model, feature: feature.name }, ks);
      }
    });
    if (bucket.rows >= this.minRows) metrics.driftBucketRows.set({ topology, model }, bucket.rows);
    this.results.push(result);
    if (this.results.length > RECENT) this.results.shift();
    const worst = result.features.reduce((a, b) => (b.psi > a.psi ? b : a));
    this.options.logger.debug({ model: `${model}@${version}`, bucketStart: new Date(bucket.start).toISOString(), rows: bucket.rows, worst: worst.name, psi: worst.psi }, 'drift bucket closed');
    return rows;
  }

  /** One insert per close, one after another, retried; a write that still fails is logged with what it lost. */
  private write(rows: DriftRow[]): void {
    const writer = this.options.writer;
    if (writer === undefined) return;
    this.writes = this.writes.then(async () => {
      try {
        await retry(() => writer.insert(rows), { what: `writing ${rows.length} drift rows to ${writer.table}`, maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 5_000, signal: this.stop.signal });
      } catch (error) {
        this.options.logger.error({ table: writer.table, rows: rows.length, buckets: [...new Set(rows.map((r) => r.bucketStart))], err: errorMessage(error) }, 'drift rows could not be written (the gauges and the dashboard have them)');
      }
    });
  }
}
