/**
 * Embedded-mode phases: the card-fraud pipeline on the bounded generator, timed from
 * Engine.start until `engine.done` (every window closed, scored and flushed).
 *   pipeline-only: the same windows and ONNX scoring, sinks replaced by row counters;
 *   full default:  the real sinks as the embedded demo runs them: chDB in a temp dir, memory
 *                  state, push disabled (the WebSocket sink then publishes nowhere).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { Engine } from '../../src/runtime/engine.ts';
import type { SourceSpec } from '../../src/sources/source.ts';
import type { AnyTopology } from '../../src/topology/define-topology.ts';
import type { EngineConfig } from '../../src/topology/config.ts';
import { benchConfig, boundedGenerator, fullTopology, log, median, newRowCounts, pipelineOnlyTopology, result, startPhase, type BenchOptions, type BenchResult, type PhaseMeasure } from './common.ts';

interface RunOutcome {
  measure: PhaseMeasure;
  startupSeconds: number;
  stats: ReturnType<Engine['stats']>;
  extra: Record<string, unknown>;
}

/** One bounded run; `inspect` runs after `done` and before stop (row counts in chDB). */
async function runBounded(topology: AnyTopology, config: EngineConfig, events: number, options: BenchOptions, logger: Logger, inspect?: (engine: Engine) => Promise<Record<string, unknown>>): Promise<RunOutcome> {
  const stop = startPhase();
  const started = performance.now();
  // A fresh Metrics without default collectors: several engines run in this one process.
  const engine = await Engine.start(topology, { config, logger, push: false, metrics: new Metrics(), source: boundedGenerator(options, events) as SourceSpec<unknown> });
  const startupSeconds = (performance.now() - started) / 1000;
  try {
    await engine.done;
  } catch (error) {
    await engine.stop().catch(() => {});
    throw error;
  }
  const measure = stop();
  const stats = engine.stats();
  const extra = inspect ? await inspect(engine) : {};
  await engine.stop(); // closes chDB, the state store and the model; not part of the time
  if (stats.processedRecords !== events) throw new Error(`processed ${stats.processedRecords} of ${events} events`);
  return { measure, startupSeconds, stats, extra };
}

export async function benchPipelineOnly(options: BenchOptions, logger: Logger): Promise<BenchResult> {
  const config = benchConfig({});
  const run = (events: number) => {
    const counts = newRowCounts();
    const started = performance.now();
    return runBounded(pipelineOnlyTopology(counts), config, events, options, logger, async () => {
      const { lastFeaturesAt, firstPredictionsAt, ...rows } = counts;
      // When scoring only starts after the last window was computed, the event loop never ran the
      // ONNX completions while events were being processed (they all ran at the end).
      return { ...rows, lastFeaturesSeconds: (lastFeaturesAt - started) / 1000, firstPredictionsSeconds: (firstPredictionsAt - started) / 1000 };
    });
  };
  if (options.warmupEvents > 0) {
    log(`embedded pipeline-only: warm-up with ${options.warmupEvents} events`);
    await run(options.warmupEvents);
  }
  const runs: RunOutcome[] = [];
  for (let i = 0; i < options.repeat; i++) {
    log(`embedded pipeline-only: run ${i + 1}/${options.repeat}, ${options.events} events`);
    runs.push(await run(options.events));
  }
  return summarize('embedded pipeline-only (counting sinks)', options.events, runs);
}

export async function benchEmbeddedDefault(options: BenchOptions, logger: Logger): Promise<BenchResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-bench-chdb-'));
  // chDB allows one data directory per process: warm-up and measured runs share it, each
  // with its own table prefix so every measured run starts from empty tables.
  const config = benchConfig({ CLICKHOUSE_DATA_DIR: dataDir });
  const run = async (events: number) => {
    const prefix = `bench_${randomBytes(4).toString('hex')}_`;
    return runBounded(fullTopology({ tablePrefix: prefix }), config, events, options, logger, async (engine) => {
      const client = await engine.environment.sinkEnvironment.clickhouse();
      const count = async (table: string) => {
        const rows = await (await client.query({ query: `SELECT count() AS n FROM ${prefix}${table}`, format: 'JSONEachRow' })).json<{ n: string }>();
        return Number(rows[0]?.n ?? 0);
      };
      return { payments: await count('payments'), features: await count('card_features'), predictions: await count('fraud_predictions'), late: await count('late_records'), deadLetters: await count('dead_letters') };
    });
  };
  try {
    if (options.warmupEvents > 0) {
      log(`embedded default (chDB ${dataDir}): warm-up with ${options.warmupEvents} events`);
      await run(options.warmupEvents);
    }
    const runs: RunOutcome[] = [];
    for (let i = 0; i < options.repeat; i++) {
      log(`embedded default: run ${i + 1}/${options.repeat}, ${options.events} events`);
      const outcome = await run(options.events);
      if (outcome.extra.payments !== options.events) throw new Error(`chDB holds ${String(outcome.extra.payments)} payments, expected ${options.events}`);
      runs.push(outcome);
    }
    return summarize('embedded default (chDB, memory state)', options.events, runs);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The median run is reported; all runs are kept in `runs`. */
function summarize(label: string, events: number, runs: RunOutcome[]): BenchResult {
  const seconds = runs.map((r) => r.measure.seconds);
  const mid = median(seconds);
  const chosen = runs.reduce((best, r) => (Math.abs(r.measure.seconds - mid) < Math.abs(best.measure.seconds - mid) ? r : best));
  const rows = chosen.extra as { features?: number; predictions?: number; lastFeaturesSeconds?: number; firstPredictionsSeconds?: number };
  const note = [`startup ${chosen.startupSeconds.toFixed(2)} s`, `${rows.features ?? '?'} features`, `${rows.predictions ?? '?'} predictions`];
  if (rows.lastFeaturesSeconds !== undefined) note.push(`last features at ${rows.lastFeaturesSeconds.toFixed(2)} s, first predictions at ${rows.firstPredictionsSeconds!.toFixed(2)} s`);
  if (runs.length > 1) note.push(`median of ${runs.length}: ${seconds.map((s) => s.toFixed(2)).join('/')} s`);
  return result(label, events, { ...chosen.measure, seconds: mid }, {
    note: note.join('; '),
    runs: seconds,
    details: { startupSeconds: chosen.startupSeconds, rows: chosen.extra, stats: chosen.stats },
  });
}
