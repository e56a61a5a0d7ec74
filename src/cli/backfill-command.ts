import type { Command } from 'commander';
import { backfill, type BackfillSummary } from '../backfill/backfill.ts';
import { ConfigError } from '../core/errors.ts';
import { loadTopology } from '../topology/load-topology.ts';
import { parseDurationOption, parseWholeOption } from './number-option.ts';
import { parseTime } from './time-option.ts';
import { backfillProgress } from './backfill-progress.ts';
import { withCliAudit } from './cli-audit.ts';

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

/** Parses the options and runs `backfill` (src/backfill) with a progress bar. */
export async function backfillCommand(file: string, options: BackfillCommandOptions): Promise<BackfillSummary> {
  const from = parseTime(options.from, '--from');
  const to = parseTime(options.to, '--to');
  // Checked here, not only by the replay, which starts at --from minus the warm-up.
  if (to <= from) throw new ConfigError('--to', `${new Date(to).toISOString()} is not after --from (${new Date(from).toISOString()})`, 'give a --to after --from (--to is exclusive)');
  const batchSize = parseBatchSize(options.batchSize);
  const maxEventsPerSecond = parseMaxRate(options.maxRate);
  const warmupMs = options.warmup === undefined ? undefined : parseDurationOption(options.warmup, '--warmup');
  const topology = await loadTopology(file);
  const progress = backfillProgress({ enabled: options.progress });
  try {
    return await withCliAudit('connect', (audit) =>
      backfill(topology, { from, to }, { table: options.table, schema: options.schema, timeColumn: options.timeColumn, batchSize, maxEventsPerSecond, warmupMs, onStart: (total) => progress.start(total), onProgress: (p) => progress.update(p), audit }),
    );
  } finally {
    progress.stop();
  }
}

/** --batch-size: rows per query, 1 to 1,000,000. */
export function parseBatchSize(text: string): number {
  return parseWholeOption(text, '--batch-size', 'a number of rows from 1 to 1000000', 'use e.g. --batch-size 10000', 1_000_000);
}

/** --max-rate: events per second, a whole number from 1; undefined without the option. */
export function parseMaxRate(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseWholeOption(text, '--max-rate', 'a whole number of events per second', 'use e.g. --max-rate 20000, or leave it out for no limit');
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
