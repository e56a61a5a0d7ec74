import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { auditParity, type ParityReport } from '../backfill/parity-audit.ts';
import { formatDifference } from '../backfill/parity-compare.ts';
import { ConfigError, errorMessage, TributaryError } from '../core/errors.ts';
import { loadTopology } from '../topology/load-topology.ts';
import { auditGroup } from './audit-group.ts';
import { parseBatchSize, parseMaxRate } from './backfill-command.ts';
import { parseDurationOption } from './number-option.ts';
import { parseTime } from './time-option.ts';

interface ParityCommandOptions {
  from: string;
  to: string;
  warmup?: string;
  batchSize: string;
  maxRate?: string;
  redis: boolean;
  format: 'table' | 'json';
}

/** Exit codes of `tributary audit parity`. */
export const PARITY_EXIT = { same: 0, differences: 1, failed: 2 } as const;

const HELP = `
Replays the stored events of the range through the topology's own feature code (as a backfill
does, from --from minus the feature set's lookback), and compares every window ending in
(--from, --to], key by key and column by column, with the online rows the engine stored in the
lifecycle's feature table; then, for each key it touched, its latest window with what the online
state (Redis, REDIS_URL) holds now. Writes nothing. Prints one line per difference (store, key,
window end, column, stored and recomputed value) and a summary. Keys Redis no longer holds (TTL)
or holds for a later window are counted, not compared.

Exit code: 0 no difference, 1 differences found, 2 the audit could not run.
Run it as a low-priority job (topologies/card-fraud.jobs.json: parity-audit), an hour at a time:
recomputed rows are held in memory.`;

/** Adds `tributary audit parity <topology> --from <time> --to <time>`. */
export function registerAuditParityCommand(program: Command): void {
  auditGroup(program)
    .command('parity')
    .argument('<topology>', 'topology module with a lifecycle')
    .description("recompute a range's features from the stored events and compare them with the feature table and the online state; exit 1 on any difference")
    .requiredOption('--from <time>', 'windows ending after this time (ISO-8601 with zone, date, or epoch ms)')
    .requiredOption('--to <time>', 'windows ending at or before this time')
    .option('--warmup <duration>', "read this long before --from (default: the feature set's lookback)")
    .option('--batch-size <rows>', 'rows per ClickHouse query', '10000')
    .option('--max-rate <events/s>', 'read at most this many events per second; default no limit')
    .option('--no-redis', 'compare the feature table only')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addHelpText('after', HELP)
    // A usage error (a missing --from) is "could not run" too: exit 2, never 1, which means differences.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : PARITY_EXIT.failed))
    .action(async (file: string, options: ParityCommandOptions) => {
      process.exitCode = await parityCommand(file, options);
    });
}

/** Runs the audit and prints it; returns the exit code (2 with the reason on stderr when it could not run). */
export async function parityCommand(file: string, options: ParityCommandOptions, out: (text: string) => void = (text) => process.stdout.write(text)): Promise<number> {
  try {
    const from = parseTime(options.from, '--from');
    const to = parseTime(options.to, '--to');
    if (to <= from) throw new ConfigError('--to', `${new Date(to).toISOString()} is not after --from (${new Date(from).toISOString()})`, 'give a --to after --from');
    const topology = await loadTopology(file);
    // stdout carries the report only: logs go to stderr, warnings and up unless LOG_LEVEL says otherwise.
    const logger = pino({ name: `tributary:${topology.name}:parity-audit`, level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination({ dest: 2, sync: true }));
    const report = await auditParity(topology, { from, to }, {
      logger,
      warmupMs: options.warmup === undefined ? undefined : parseDurationOption(options.warmup, '--warmup'),
      batchSize: parseBatchSize(options.batchSize),
      maxEventsPerSecond: parseMaxRate(options.maxRate),
      redis: options.redis,
    });
    out(options.format === 'json' ? `${JSON.stringify(report)}\n` : formatReport(report));
    return report.differences.length > 0 ? PARITY_EXIT.differences : PARITY_EXIT.same;
  } catch (error) {
    process.stderr.write(`tributary audit parity: ${error instanceof TributaryError ? error.message : errorMessage(error)}\n`);
    return PARITY_EXIT.failed;
  }
}

/** The differences, one per line, then the summary. */
export function formatReport(report: ParityReport): string {
  const lines = report.differences.map(formatDifference);
  const range = `(${new Date(report.from).toISOString()}, ${new Date(report.to).toISOString()}]`;
  const redis = report.redis === null ? 'Redis not compared' : `Redis ${report.redis.prefix}*: ${report.redis.compared} keys compared, ${report.redis.missing} missing (expired or never written), ${report.redis.newer} newer than the range`;
  const counts = (store: string) => report.differences.filter((d) => d.store === store).length;
  lines.push(
    `parity audit of ${report.topology} output ${report.output}, windows ending in ${range}: ${report.events} events replayed in ${report.seconds.toFixed(1)} s; ` +
      `${report.recomputed} windows of ${report.keys} keys recomputed, ${report.stored} stored in ${report.table}; ${redis}; ` +
      `${report.differences.length} difference${report.differences.length === 1 ? '' : 's'} (${counts('clickhouse')} in ClickHouse, ${counts('redis')} in Redis)` +
      (report.late + report.deadLetters > 0 ? `; the replay had ${report.late} late records and ${report.deadLetters} dead letters` : ''),
  );
  return `${lines.join('\n')}\n`;
}
