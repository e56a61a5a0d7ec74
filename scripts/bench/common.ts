/**
 * Shared pieces of `npm run bench`: the result shape, phase timing (wall, CPU, load), the one
 * payment stream every phase uses, the bench topology variants and the engine configuration.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { SinkSpec } from '../../src/sinks/sink.ts';
import { generatorSource } from '../../src/sources/generator/generator-source.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { defineTopology, type AnyTopology } from '../../src/topology/define-topology.ts';
import { loadConfig, type EngineConfig } from '../../src/topology/config.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';

export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas', import.meta.url));
/** Its own name, so Redis keys, groups and metrics never mix with a real card-fraud run. */
export const BENCH_TOPOLOGY = 'card-fraud-bench';

export interface BenchOptions {
  events: number;
  /** Events per second of event time: sets how many windows the stream closes. */
  eventRate: number;
  seed: number;
  warmupEvents: number;
  repeat: number;
}

export interface BenchResult {
  label: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Process CPU seconds per wall second during the phase (2 cores: up to ~2). */
  cpuPerWallSecond: number;
  loadAvgBefore: number;
  loadAvgAfter: number;
  note?: string;
  /** Every measured run when a phase is repeated (seconds). */
  runs?: number[];
  details?: Record<string, unknown>;
}

export interface PhaseMeasure {
  seconds: number;
  cpuPerWallSecond: number;
  loadAvgBefore: number;
  loadAvgAfter: number;
}

/** Starts measuring a phase; the returned function stops and reports it. */
export function startPhase(): () => PhaseMeasure {
  const loadAvgBefore = loadavg()[0]!;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const used = process.cpuUsage(cpu);
    return { seconds, cpuPerWallSecond: (used.user + used.system) / 1e6 / seconds, loadAvgBefore, loadAvgAfter: loadavg()[0]! };
  };
}

export function result(label: string, events: number, measure: PhaseMeasure, extra: Partial<BenchResult> = {}): BenchResult {
  return { label, events, eventsPerSecond: events / measure.seconds, ...measure, ...extra };
}

/** Fixed start of event time, so every run (and every phase) sees the same windows. */
export const EVENT_TIME_START = Date.UTC(2026, 0, 5, 9, 0, 0);

/**
 * The payments the generator source emits with `startTime: EVENT_TIME_START`: nominal time
 * advances by 1000/eventRate ms per event, accumulated the same way the generator does.
 */
export function paymentStream(options: Pick<BenchOptions, 'eventRate' | 'seed'>, count: number): Payment[] {
  const model = new CardPaymentModel({ seed: options.seed });
  const gapMs = 1000 / options.eventRate;
  const out = new Array<Payment>(count);
  let nominal = EVENT_TIME_START;
  for (let i = 0; i < count; i++) {
    out[i] = model.next(nominal).payment;
    nominal += gapMs;
  }
  return out;
}

/** A bounded generator that runs as fast as the engine takes events. */
export function boundedGenerator(options: Pick<BenchOptions, 'eventRate' | 'seed'>, limit: number) {
  return generatorSource<Payment>({
    name: 'bench-payments',
    events: () => {
      const model = new CardPaymentModel({ seed: options.seed });
      return { next: (time) => model.next(time).payment };
    },
    eventTime: (p) => p.ts,
    eventsPerSecond: options.eventRate,
    pace: 'max',
    limit,
    startTime: EVENT_TIME_START,
    outOfOrderness: '5s',
  });
}

/** The real card-fraud topology (windows, ONNX, ClickHouse, state, WebSocket), renamed. */
export function fullTopology(options: { topic?: string; tablePrefix: string }): AnyTopology {
  return defineTopology({ ...createCardFraudTopology(options), name: BENCH_TOPOLOGY });
}

export interface RowCounts {
  features: number;
  predictions: number;
  late: number;
  deadLetters: number;
  /** performance.now() of the last features write and the first predictions write. */
  lastFeaturesAt: number;
  firstPredictionsAt: number;
}

export function newRowCounts(): RowCounts {
  return { features: 0, predictions: 0, late: 0, deadLetters: 0, lastFeaturesAt: 0, firstPredictionsAt: 0 };
}

/** The same pipeline with every sink replaced by a counter that acknowledges at once. */
export function pipelineOnlyTopology(counts: RowCounts): AnyTopology {
  const full = createCardFraudTopology({});
  const features = (n: number) => {
    counts.features += n;
    counts.lastFeaturesAt = performance.now();
  };
  const predictions = (n: number) => {
    if (counts.predictions === 0 && n > 0) counts.firstPredictionsAt = performance.now();
    counts.predictions += n;
  };
  return defineTopology({
    ...full,
    name: BENCH_TOPOLOGY,
    sinks: { features: [countingSink(features)], predictions: [countingSink(predictions)] },
    late: countingSink((n) => (counts.late += n)),
    deadLetter: countingSink((n) => (counts.deadLetters += n)),
  });
}

function countingSink<T>(add: (rows: number) => void): SinkSpec<T> {
  return {
    description: 'row counter',
    create: () => ({
      name: 'count',
      open: async () => {},
      // Retains no ack token: the rows count as acknowledged when written.
      write: (rows) => void add(rows.length),
      isFull: () => false,
      whenReady: async () => {},
      flush: async () => {},
      close: async () => {},
    }),
  };
}

/**
 * Engine configuration from an explicit environment (never the caller's stray variables), with
 * TRIBUTARY_MAX_IN_FLIGHT and TRIBUTARY_COMMIT_INTERVAL_MS passed through for experiments.
 */
export function benchConfig(env: Record<string, string | undefined>): EngineConfig {
  return loadConfig({
    TRIBUTARY_MAX_IN_FLIGHT: process.env.TRIBUTARY_MAX_IN_FLIGHT,
    TRIBUTARY_COMMIT_INTERVAL_MS: process.env.TRIBUTARY_COMMIT_INTERVAL_MS,
    TRIBUTARY_SCHEMAS_DIR: SCHEMAS_DIR,
    PORT: '0',
    ...env,
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}
