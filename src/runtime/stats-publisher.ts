import type { Metrics } from '../observability/metrics.ts';
import type { EngineStats } from './engine-stats.ts';
import { IntervalQuantiles, type Quantiles } from './stats-quantiles.ts';
import { stageLatencyOf } from '../observability/stage-latency.ts';

const NO_QUANTILES: Quantiles = { p50: null, p99: null };
/** The close path in order; the sinks (by name) after it. */
const STAGE_ORDER = ['closed', 'joined', 'scored'];
import { STATS_CHANNEL, type ContractRuleStats, type ModelQualityStats, type OperatorStats, type SinkStats, type StatsSnapshot } from './stats-snapshot.ts';

export interface SinkStatus {
  name: string;
  output: string;
  full: boolean;
}

export interface StatsPublisherOptions {
  topology: string;
  source: string;
  metrics: Metrics;
  engine: () => EngineStats;
  sinks: () => SinkStatus[];
  /** The served models' drift and outcomes (ServedModel.qualitySnapshot). */
  quality?: () => ModelQualityStats[];
  publish: (channel: string, items: readonly unknown[], keys: readonly string[]) => void;
  /** Default 1000 ms. */
  intervalMs?: number;
}

type Values = Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;

/** Sums of a metric's values per value of `label` (all values when absent). */
function byLabel(values: Values, label: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const { labels, value } of values) {
    const key = String(labels[label] ?? '');
    sums.set(key, (sums.get(key) ?? 0) + value);
  }
  return sums;
}

/**
 * Once a second, publishes a StatsSnapshot on the `tributary.stats` channel for the dashboard:
 * rates from the counters' increase since the last snapshot, latency quantiles from the
 * end-to-end histogram's increase, and the operators and sinks with their state. Reads the
 * metrics registry, so it costs nothing on the hot path.
 */
export class StatsPublisher {
  private readonly options: StatsPublisherOptions;
  private timer: NodeJS.Timeout | null = null;
  private previous = new Map<string, Map<string, number>>();
  private readonly eventTime = new IntervalQuantiles();
  private readonly processing = new IntervalQuantiles();
  private readonly stages = new IntervalQuantiles();
  private previousAt = performance.now();
  private previousFetchBlocked = 0;

  constructor(options: StatsPublisherOptions) {
    this.options = options;
  }

  start(): void {
    this.timer = setInterval(() => void this.publish().catch(() => {}), this.options.intervalMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes a snapshot (rates since the previous one). Exposed for tests. */
  async snapshot(): Promise<StatsSnapshot> {
    const { metrics, topology } = this.options;
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.previousAt) / 1000);
    this.previousAt = now;
    const engine = this.options.engine();
    const records = await this.rates('records', metrics.recordsIn, 'topology', seconds);
    const steps = await this.rates('steps', metrics.stepRecordsIn, 'step', seconds);
    const sinkRows = await this.rates('sinks', metrics.sinkRows, 'sink', seconds);
    const violationTotals = byLabel((await metrics.contractViolations.get()).values, 'rule');
    const violationRates = await this.rates('contracts', metrics.contractViolations, 'rule', seconds);
    const contractViolations: ContractRuleStats[] = [...violationTotals].map(([rule, total]) => ({ rule, perSecond: violationRates.get(rule) ?? 0, total }));
    const openWindows = byLabel((await metrics.openWindows.get()).values, 'step');
    const operators: OperatorStats[] = [...new Set([...steps.keys(), ...openWindows.keys()])].map((name) => ({
      name,
      kind: openWindows.has(name) ? 'window' : /score/i.test(name) ? 'score' : 'step',
      recordsPerSecond: steps.get(name) ?? null,
      ...(openWindows.has(name) ? { openWindows: openWindows.get(name)! } : {}),
    }));
    const sinks: SinkStats[] = this.options.sinks().map((sink) => ({ ...sink, rowsPerSecond: sinkRows.get(sink.name) ?? 0 }));
    const blocked = engine.fetchBlocked > this.previousFetchBlocked || engine.inFlight >= engine.maxInFlight;
    this.previousFetchBlocked = engine.fetchBlocked;
    const watermark = Number.isFinite(engine.watermark) ? engine.watermark : null;
    const sum = async (metric: { get(): Promise<{ values: Values }> }) => (await metric.get()).values.reduce((total, { value }) => total + value, 0);
    return {
      time: Date.now(),
      topology,
      source: this.options.source,
      recordsPerSecond: records.get(topology) ?? 0,
      processedRecords: engine.processedRecords,
      inFlight: engine.inFlight,
      maxInFlight: engine.maxInFlight,
      backpressure: sinks.some((sink) => sink.full) ? 'sink-full' : blocked ? 'fetch-blocked' : 'ok',
      watermark,
      watermarkLagMs: watermark === null ? null : Date.now() - watermark,
      ...(await this.latencies()),
      deadLetters: await sum(metrics.deadLetters),
      lateRecords: await sum(metrics.lateRecords),
      recordsLost: await sum(metrics.recordsLost),
      models: (await metrics.modelInfo.get()).values.filter(({ value }) => value === 1).map(({ labels }) => `${labels.model}@${labels.version}`),
      operators,
      sinks,
      contractViolations,
      ...(this.options.quality ? { quality: this.options.quality() } : {}),
    };
  }

  private async publish(): Promise<void> {
    // One key: a dashboard that subscribes gets the latest snapshot at once.
    this.options.publish(STATS_CHANNEL, [await this.snapshot()], [this.options.topology]);
  }

  /** Per label value: the counter's increase since the last call, per second. */
  private async rates(id: string, counter: { get(): Promise<{ values: Values }> }, label: string, seconds: number): Promise<Map<string, number>> {
    const current = byLabel((await counter.get()).values, label);
    const before = this.previous.get(id) ?? new Map<string, number>();
    this.previous.set(id, current);
    const rates = new Map<string, number>();
    for (const [key, value] of current) rates.set(key, Math.max(0, value - (before.get(key) ?? 0)) / seconds);
    return rates;
  }

  /**
   * Over the last interval: event time → acknowledgement (every sink), ingest → delivery (the
   * WebSocket channels, or every sink when there is none) and the close path's stages.
   */
  private async latencies(): Promise<Pick<StatsSnapshot, 'latencyMs' | 'processingLatencyMs' | 'stageLatencyMs'>> {
    const { metrics, topology } = this.options;
    const stages = stageLatencyOf(metrics.registry, topology);
    const eventTime = await this.eventTime.take(metrics.endToEndLatency, () => '');
    const processing = await this.processing.take(stages.processing, (labels) => (String(labels.sink).startsWith('ws:') ? 'delivery' : 'other'));
    const byStage = await this.stages.take(stages.stages, (labels) => (labels.stage === 'sink' ? String(labels.sink) : String(labels.stage)));
    const order = (name: string) => { const i = STAGE_ORDER.indexOf(name); return i === -1 ? STAGE_ORDER.length : i; };
    return {
      latencyMs: eventTime.get('') ?? NO_QUANTILES,
      // With a WebSocket channel, delivery is what the user sees: an interval without any is '–', not a ClickHouse figure.
      processingLatencyMs: (this.options.sinks().some((sink) => sink.name.startsWith('ws:')) ? processing.get('delivery') : processing.get('other')) ?? NO_QUANTILES,
      stageLatencyMs: [...byStage].sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b)).map(([stage, q]) => ({ stage, ...q })),
    };
  }
}
