import type { Registry } from 'prom-client';
import { BatchHistogram, type HistogramSeries } from './batch-histogram.ts';

/**
 * Where the close path's time goes (issue 17). Every source batch gets a BatchTiming when the
 * engine takes it in; the steps it passes note the moment their output leaves them:
 *
 * - tributary_processing_latency_seconds{sink}: per row, from its source batch's arrival in the
 *   engine (ingest) to its acknowledgement by `sink` (ws:<channel>: frames handed to the
 *   sockets). What the engine itself adds, whatever the rows' event times say.
 * - tributary_stage_latency_seconds{stage, sink}: for rows of windows that closed, from the
 *   arrival of the batch whose watermark closed them to: `closed` (the window step emitted
 *   them), `joined` (a window join), `scored` (a score step), `sink` (acknowledged by `sink`).
 *   Cumulative, so consecutive stages' difference is the stage's own cost.
 *
 * Times are performance.now() (monotonic, sub-millisecond); rows of one batch share a stamp,
 * so each observation is one binary search, whatever the batch size.
 */

/** 1 ms to 30 s, dense up to 2 s: a p99 target of 50 ms and a loaded machine's seconds both read well. */
export const STAGE_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 30];

export type CloseStage = 'closed' | 'joined' | 'scored';

export class StageLatency {
  readonly processing: BatchHistogram<'topology' | 'sink'>;
  readonly stages: BatchHistogram<'topology' | 'stage' | 'sink'>;
  readonly topology: string;
  private readonly stageSeries = new Map<string, HistogramSeries>();
  private readonly processingSeries = new Map<string, HistogramSeries>();

  constructor(registry: Registry, topology: string) {
    this.topology = topology;
    this.processing = new BatchHistogram({ name: 'tributary_processing_latency_seconds', help: "Seconds from a row's source batch reaching the engine to its acknowledgement by a sink (ws:<channel>: frames handed to the sockets), per row", labelNames: ['topology', 'sink'], buckets: STAGE_LATENCY_BUCKETS, registers: [registry] });
    this.stages = new BatchHistogram({ name: 'tributary_stage_latency_seconds', help: 'Seconds from the arrival of the batch whose watermark closed a window to its row leaving a stage: closed, joined, scored, sink (acknowledged by the sink label), per row', labelNames: ['topology', 'stage', 'sink'], buckets: STAGE_LATENCY_BUCKETS, registers: [registry] });
  }

  /** A source batch taken in at `arrivedAt` (performance.now(); default now). */
  begin(arrivedAt = performance.now()): BatchTiming {
    return new BatchTiming(this, arrivedAt);
  }

  stage(stage: CloseStage | 'sink', sink: string): HistogramSeries {
    const key = `${stage}\u0000${sink}`;
    let series = this.stageSeries.get(key);
    if (series === undefined) this.stageSeries.set(key, (series = this.stages.labels({ topology: this.topology, stage, sink })));
    return series;
  }

  processingOf(sink: string): HistogramSeries {
    let series = this.processingSeries.get(sink);
    if (series === undefined) this.processingSeries.set(sink, (series = this.processing.labels({ topology: this.topology, sink })));
    return series;
  }
}

/** One source batch's clock, carried on its side outputs through the pipeline (Batch.side.timing). */
export class BatchTiming {
  /** Whether windows closed on this batch's watermark (its window outputs count per stage). */
  closing = false;

  constructor(
    private readonly owner: StageLatency,
    readonly arrivedAt: number,
  ) {}

  /** `rows` of closed windows left `stage` now. */
  note(stage: CloseStage, rows: number): void {
    if (rows <= 0) return;
    if (stage === 'closed') this.closing = true;
    else if (!this.closing) return;
    this.owner.stage(stage, '').observeMany((performance.now() - this.arrivedAt) / 1000, rows);
  }

  /** `sink` acknowledged `rows` of this batch now; `windowed`: rows of a window output. */
  acknowledged(sink: string, rows: number, windowed: boolean): void {
    const seconds = (performance.now() - this.arrivedAt) / 1000;
    this.owner.processingOf(sink).observeMany(seconds, rows);
    if (windowed && this.closing) this.owner.stage('sink', sink).observeMany(seconds, rows);
  }
}

const byRegistry = new WeakMap<Registry, StageLatency>();

/** The engine's stage latency metrics (one set per registry, made on first use). */
export function stageLatencyOf(registry: Registry, topology: string): StageLatency {
  let latency = byRegistry.get(registry);
  if (latency === undefined) byRegistry.set(registry, (latency = new StageLatency(registry, topology)));
  return latency;
}
