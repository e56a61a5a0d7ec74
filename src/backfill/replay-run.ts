import { ConfigError, TributaryError } from '../core/errors.ts';
import { connectClickHouse } from '../clickhouse/connection.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { Engine } from '../runtime/engine.ts';
import { clickhouseReplay, type ReplayProgress } from '../sources/clickhouse-replay/replay-source.ts';
import { loadConfig, type EngineConfig } from '../topology/config.ts';
import { clickhouseTarget } from '../topology/connection-config.ts';
import type { AuditContext } from '../audit/audited-run.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import { backfillEvents, type BackfillEvents } from './backfill-plan.ts';

/** Event time, epoch ms: `from` inclusive, `to` exclusive. */
export interface BackfillRange {
  from: number;
  to: number;
}

/** How stored events are read back (backfill and parity audit alike). */
export interface ReplayOptions {
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
  /** Default loadConfig() (the environment); window state is always in memory for a replay. */
  config?: EngineConfig;
  logger?: Logger;
  /** Called once with the number of events to replay, before the first is read. */
  onStart?: (total: number) => void;
  onProgress?: (progress: ReplayProgress) => void;
  /**
   * Records backfill.start and backfill.run (outcome, counts) and hands the trail to the engine
   * the replay runs; default: that engine opens config.audit itself.
   */
  audit?: AuditContext;
}

export interface ReplayResult {
  events: BackfillEvents;
  /** Events read from the table, the warm-up's included (dead-lettered ones too). */
  read: number;
  deadLetters: number;
  /** Rows routed per pipeline output. */
  routed: Record<string, number>;
  seconds: number;
}

/**
 * Reads the raw events of [from - warmupMs, to) back from ClickHouse in event-time order and
 * runs them through `run`, a topology derived from `topology` (the same pipeline, other sinks):
 * the engine with the replay as its source, no HTTP endpoint and in-memory window state (a
 * replay must not touch the online checkpoints), tagged `origin`. Resolves once every window is
 * closed and every sink flushed. The backfill writes ClickHouse tables this way, the parity audit
 * collects the rows to compare them.
 */
export async function replayStoredEvents(topology: AnyTopology, run: AnyTopology, range: BackfillRange, warmupMs: number, origin: string, options: ReplayOptions = {}): Promise<ReplayResult> {
  const { from, to } = range;
  if (!(to > from)) throw new ConfigError('to', `${new Date(to).toISOString()} is not after from (${new Date(from).toISOString()})`, 'give a `to` after `from` (`to` is exclusive)');
  const config = { ...(options.config ?? loadConfig()), windowState: 'memory' as const };
  const events = backfillEvents(topology, options);
  const logger = options.logger ?? createLogger(`tributary:${topology.name}:${origin}`);
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
    const engine = await Engine.start(run, { config, logger, source, push: false, origin, audit: options.audit });
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
    return { events, read, deadLetters, routed: stats.routed, seconds: (performance.now() - started) / 1000 };
  } finally {
    await client.close().catch(() => {});
  }
}
