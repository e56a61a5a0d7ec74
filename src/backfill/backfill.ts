import { ConfigError, TributaryError } from '../core/errors.ts';
import { connectClickHouse } from '../clickhouse/connection.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { Engine } from '../runtime/engine.ts';
import { clickhouseReplay, type ReplayProgress } from '../sources/clickhouse-replay/replay-source.ts';
import { loadConfig, type EngineConfig } from '../topology/config.ts';
import { clickhouseTarget } from '../topology/connection-config.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import { backfillEvents, backfillTopology } from './backfill-plan.ts';
import { backfillWarmupMs } from './backfill-warmup.ts';
import { auditedRun, type AuditContext } from '../audit/audited-run.ts';

/** The rows of a backfill carry this origin in tables with `origin: true`. */
export const BACKFILL_ORIGIN = 'backfill';

/** Event time, epoch ms: `from` inclusive, `to` exclusive. */
export interface BackfillRange {
  from: number;
  to: number;
}

export interface BackfillOptions {
  /** Raw events table; default the topology's lifecycle.eventsTable. */
  table?: string;
  /** Avro schema of the events table (a file in schemas/); default from the topology's sink of that table. */
  schema?: string;
  /** Event-time column (epoch ms); default from the lifecycle or the sink. */
  timeColumn?: string;
  /** Rows per ClickHouse query; default 10,000. */
  batchSize?: number;
  /** Events per second at most; default no limit. */
  maxEventsPerSecond?: number;
  /** How long before `from` to read as warm-up; default the feature set's lookback. */
  warmupMs?: number;
  /** Default loadConfig() (the environment); window state is always in memory for a backfill. */
  config?: EngineConfig;
  logger?: Logger;
  /** Called once with the number of events to replay, before the first is read. */
  onStart?: (total: number) => void;
  onProgress?: (progress: ReplayProgress) => void;
  /**
   * Records backfill.start and backfill.run (outcome, counts) and hands the trail to the engine
   * the backfill runs; default: that engine opens config.audit itself.
   */
  audit?: AuditContext;
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
  /** Rows per output (and 'late') not written because their windows end by `from`. */
  warmupSkipped: Record<string, number>;
  seconds: number;
}

/**
 * Replays the raw events of [from, to) from ClickHouse in event-time order through the
 * topology's pipeline into its ClickHouse output tables, tagged origin 'backfill'. Runs the
 * engine with the replay as its source, no HTTP endpoint and in-memory window state (a backfill
 * must not touch the online checkpoints); resolves once every window is closed and every sink
 * flushed. See backfill-plan.ts for what is written and what is left out.
 */
export function backfill(topology: AnyTopology, range: BackfillRange, options: BackfillOptions = {}): Promise<BackfillSummary> {
  const details = { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), table: options.table, warmupMs: options.warmupMs, maxEventsPerSecond: options.maxEventsPerSecond };
  const summary = (s: BackfillSummary) => ({ table: s.table, events: s.events, outputs: s.outputs, warmupSkipped: s.warmupSkipped, seconds: s.seconds });
  return auditedRun(options.audit, { kind: 'backfill', target: topology.name, details, summary }, () => runBackfill(topology, range, options));
}

async function runBackfill(topology: AnyTopology, range: BackfillRange, options: BackfillOptions): Promise<BackfillSummary> {
  const { from, to } = range;
  if (!(to > from)) throw new ConfigError('to', `${new Date(to).toISOString()} is not after from (${new Date(from).toISOString()})`, 'give a `to` after `from` (`to` is exclusive)');
  const config = { ...(options.config ?? loadConfig()), windowState: 'memory' as const };
  const events = backfillEvents(topology, options);
  const warmupMs = options.warmupMs ?? backfillWarmupMs(topology);
  const warmupSkipped: Record<string, number> = {};
  const derived = backfillTopology(topology, BACKFILL_ORIGIN, warmupMs > 0 ? { from, skipped: warmupSkipped } : undefined);
  const logger = options.logger ?? createLogger(`tributary:${topology.name}:backfill`);
  logger.info({ table: events.table, from: new Date(from).toISOString(), to: new Date(to).toISOString(), warmupMs, writes: derived.kept, skips: derived.skipped }, `backfill of ${topology.name} from ${events.table}`);
  for (const table of derived.withoutOrigin) logger.warn({ table }, `table ${table} has no origin column (clickhouseTable origin: true): backfilled rows replace online rows of the same key there`);
  const client = await connectClickHouse({ ...clickhouseTarget(config), logger });
  try {
    let read = 0;
    let deadLetters = 0;
    const source = clickhouseReplay<unknown>({
      table: events.table,
      schema: events.schema,
      timeColumn: events.timeColumn,
      from: from - warmupMs,
      to,
      batchSize: options.batchSize ?? 10_000,
      maxEventsPerSecond: options.maxEventsPerSecond,
      eventTime: topology.source.eventTime,
      outOfOrdernessMs: topology.source.outOfOrdernessMs,
      clickhouse: async () => client,
      onProgress: (p) => {
        read = p.read;
        deadLetters = p.deadLetters;
        options.onProgress?.(p);
      },
    });
    const { total } = await source.prepare(config.schemasDir);
    const started = performance.now();
    options.onStart?.(total);
    const engine = await Engine.start(derived.topology, { config, logger, source, push: false, origin: BACKFILL_ORIGIN, audit: options.audit });
    try {
      await engine.done;
    } finally {
      await engine.stop();
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
