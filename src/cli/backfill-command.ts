import type { Command } from 'commander';
import { ConfigError, TributaryError } from '../core/errors.ts';
import { createLogger } from '../observability/logger.ts';
import { Engine } from '../runtime/engine.ts';
import { connectClickHouse } from '../sinks/clickhouse/connection.ts';
import { clickhouseReplay } from '../sources/clickhouse-replay/replay-source.ts';
import { loadConfig } from '../topology/config.ts';
import { backfillEvents, backfillTopology, parseBatchSize, parseMaxRate } from './backfill-plan.ts';
import { parseTime } from './time-option.ts';
import { backfillProgress } from './backfill-progress.ts';
import { backfillWarmupMs } from './backfill-warmup.ts';
import { loadTopology } from './load-topology.ts';

export interface BackfillCommandOptions {
  from: string;
  to: string;
  table?: string;
  schema?: string;
  timeColumn?: string;
  batchSize: string;
  /** Duration before --from to read as warm-up; default the feature set's lookback. */
  warmup?: string;
  /** Events per second at most; default no limit. */
  maxRate?: string;
  /** commander's --no-progress. */
  progress: boolean;
}

export interface BackfillSummary {
  table: string;
  from: number;
  to: number;
  /** Read from `from - warmupMs`; rows of windows ending by `from` are not written. */
  warmupMs: number;
  /** Events read from the table, the warm-up's included (dead-lettered ones too). */
  events: number;
  /** Rows each pipeline output wrote into its ClickHouse sinks. */
  outputs: Record<string, number>;
  /** Rows per output (and 'late') not written because their windows end by --from. */
  warmupSkipped: Record<string, number>;
  seconds: number;
}

/** The rows of a backfill carry this origin in tables with `origin: true`. */
export const BACKFILL_ORIGIN = 'backfill';

const HELP = `
Reads the raw events of [--from, --to) back from ClickHouse in event-time order and runs them
through the topology's pipeline into its ClickHouse output tables, tagged origin = 'backfill' in
tables declared with origin: true (the online rows stay as they are). The raw table, online state,
WebSocket channels and Kafka sinks are not written.

Warm-up: the backfill reads from --from minus --warmup (default: the lookback of the topology's
feature set, its longest window; 5m for card-fraud) and writes only the rows of windows that end
after --from, so the windows that cross --from see all their events. Windows still open at --to
see only the events before it (the end of the input closes them): end after the last window you
need, and treat rows of windows that cross --to as partial. Such rows replace the backfill rows of
the same window that an earlier backfill over a neighbouring range wrote.

Priority: run as a job (tributary job, tributary schedule) the backfill runs at nice 19, but
ClickHouse reads the events and inserts the rows for it at the server's own priority. On a machine
shared with the online engine, bound that work with --max-rate (e.g. 20000 events/s).

Times: ISO-8601 with a zone (2026-01-31T00:00:00Z), a date (midnight UTC) or epoch ms; --to is
exclusive. Example:
  tributary backfill topologies/card-fraud.ts --from 2026-01-30T23:55:00Z --to 2026-02-01`;

/** Adds `tributary backfill <topology> --from <time> --to <time>` to the CLI. */
export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .argument('<topology>', 'topology module (default export from defineTopology)')
    .description("replay stored events from ClickHouse through a topology's pipeline into its feature and prediction tables, tagged as backfill")
    .requiredOption('--from <time>', 'first event time, inclusive (ISO-8601 with zone, date, or epoch ms)')
    .requiredOption('--to <time>', 'end of event time, exclusive')
    .option('--table <table>', "raw events table (default: the topology's lifecycle.eventsTable)")
    .option('--schema <file>', "Avro schema of the events table in schemas/ (default: from the topology's sink of that table)")
    .option('--time-column <column>', 'event-time column in epoch ms (default: from the lifecycle or the sink)')
    .option('--batch-size <rows>', 'rows per ClickHouse query', '10000')
    .option('--max-rate <events/s>', 'read at most this many events per second (limits the work ClickHouse does for the backfill at its own priority); default no limit')
    .option('--warmup <duration>', "read this long before --from (e.g. 5m, 0 for none); default the feature set's lookback")
    .option('--no-progress', 'no progress bar (or progress lines when stderr is not a terminal)')
    .addHelpText('after', HELP)
    .action(async (topology: string, options: BackfillCommandOptions) => {
      const summary = await backfillCommand(topology, options);
      process.stdout.write(formatSummary(summary));
    });
}

/**
 * Runs one backfill to its end: the engine with the replay as its source, `push: false`,
 * origin 'backfill' and in-memory window state (a backfill must not touch the online
 * checkpoints); resolves with what it did once every window is closed and every sink flushed.
 */
export async function backfillCommand(file: string, options: BackfillCommandOptions): Promise<BackfillSummary> {
  const from = parseTime(options.from, '--from');
  const to = parseTime(options.to, '--to');
  // Checked here, not only by the replay, which starts at --from minus the warm-up.
  if (to <= from) throw new ConfigError('--to', `${new Date(to).toISOString()} is not after --from (${new Date(from).toISOString()})`, 'give a --to after --from (--to is exclusive)');
  const batchSize = parseBatchSize(options.batchSize);
  const maxEventsPerSecond = parseMaxRate(options.maxRate);
  const config = { ...loadConfig(), windowState: 'memory' as const };
  const topology = await loadTopology(file);
  const events = backfillEvents(topology, options);
  const warmupMs = backfillWarmupMs(topology, options.warmup);
  const warmupSkipped: Record<string, number> = {};
  const derived = backfillTopology(topology, BACKFILL_ORIGIN, warmupMs > 0 ? { from, skipped: warmupSkipped } : undefined);
  const logger = createLogger(`tributary:${topology.name}:backfill`);
  logger.info({ table: events.table, from: new Date(from).toISOString(), to: new Date(to).toISOString(), warmupMs, writes: derived.kept, skips: derived.skipped }, `backfill of ${topology.name} from ${events.table}`);
  for (const table of derived.withoutOrigin) logger.warn({ table }, `table ${table} has no origin column (clickhouseTable origin: true): backfilled rows replace online rows of the same key there`);
  const progress = backfillProgress({ enabled: options.progress });
  const client = await connectClickHouse({ url: config.clickhouseUrl, dataDir: config.clickhouseDataDir, logger });
  try {
    let read = 0;
    let deadLetters = 0;
    const source = clickhouseReplay<unknown>({
      table: events.table,
      schema: events.schema,
      timeColumn: events.timeColumn,
      from: from - warmupMs,
      to,
      batchSize,
      maxEventsPerSecond,
      eventTime: topology.source.eventTime,
      outOfOrdernessMs: topology.source.outOfOrdernessMs,
      clickhouse: async () => client,
      onProgress: (p) => {
        read = p.read;
        deadLetters = p.deadLetters;
        progress.update(p);
      },
    });
    const { total } = await source.prepare(config.schemasDir);
    const started = performance.now();
    progress.start(total);
    const engine = await Engine.start(derived.topology, { config, logger, source, push: false, origin: BACKFILL_ORIGIN });
    try {
      await engine.done;
    } finally {
      await engine.stop();
      progress.stop();
    }
    const stats = engine.stats();
    // Every record read must have gone through the pipeline, none skipped (see replay-batches.ts).
    if (stats.processedRecords !== read - deadLetters) {
      throw new TributaryError(`the engine processed ${stats.processedRecords} records but the replay read ${read - deadLetters} (and ${deadLetters} dead letters)`, { code: 'BACKFILL_COUNT' });
    }
    if (deadLetters > 0) logger.warn({ deadLetters }, `${deadLetters} events had no valid event time and went to the dead letters`);
    const outputs = Object.fromEntries(Object.entries(stats.routed).filter(([output]) => output !== 'raw').map(([output, rows]) => [output, rows - (warmupSkipped[output] ?? 0)]));
    return { table: events.table, from, to, warmupMs, events: read, outputs, warmupSkipped, seconds: (performance.now() - started) / 1000 };
  } finally {
    await client.close().catch(() => {});
  }
}

/** The lines printed when a backfill ends. */
export function formatSummary(summary: BackfillSummary): string {
  const rate = summary.seconds > 0 ? Math.round(summary.events / summary.seconds) : 0;
  const outputs = Object.entries(summary.outputs).map(([output, rows]) => `  ${output}: ${rows} rows\n`).join('');
  const skipped = Object.entries(summary.warmupSkipped).map(([output, rows]) => `${output} ${rows}`).join(', ');
  const warmup =
    summary.warmupMs > 0
      ? `Warm-up: read from ${new Date(summary.from - summary.warmupMs).toISOString()}; rows of windows ending by --from, not written: ${skipped || 'none'}.\n`
      : '';
  return (
    `Backfill of ${summary.table} [${new Date(summary.from).toISOString()}, ${new Date(summary.to).toISOString()}) done: ` +
    `${summary.events} events in ${summary.seconds.toFixed(1)} s (${rate} events/s).\n${outputs}${warmup}`
  );
}
