import { createLogger } from '../observability/logger.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import { backfillEvents, backfillTopology } from './backfill-plan.ts';
import { backfillWarmupMs } from './backfill-warmup.ts';
import { replayStoredEvents, type BackfillRange, type ReplayOptions } from './replay-run.ts';
import { auditedRun } from '../audit/audited-run.ts';

/** The rows of a backfill carry this origin in tables with `origin: true`. */
export const BACKFILL_ORIGIN = 'backfill';

export type { BackfillRange } from './replay-run.ts';

export interface BackfillOptions extends ReplayOptions {
  /** How long before `from` to read as warm-up; default the feature set's lookback. */
  warmupMs?: number;
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
 * topology's pipeline into its ClickHouse output tables, tagged origin 'backfill' (see
 * replay-run.ts for the replay, backfill-plan.ts for what is written and what is left out).
 */
export function backfill(topology: AnyTopology, range: BackfillRange, options: BackfillOptions = {}): Promise<BackfillSummary> {
  const details = { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), table: options.table, warmupMs: options.warmupMs, maxEventsPerSecond: options.maxEventsPerSecond };
  const summary = (s: BackfillSummary) => ({ table: s.table, events: s.events, outputs: s.outputs, warmupSkipped: s.warmupSkipped, seconds: s.seconds });
  return auditedRun(options.audit, { kind: 'backfill', target: topology.name, details, summary }, () => runBackfill(topology, range, options));
}

async function runBackfill(topology: AnyTopology, range: BackfillRange, options: BackfillOptions): Promise<BackfillSummary> {
  const { from, to } = range;
  const warmupMs = options.warmupMs ?? backfillWarmupMs(topology);
  const warmupSkipped: Record<string, number> = {};
  const derived = backfillTopology(topology, BACKFILL_ORIGIN, warmupMs > 0 ? { from, skipped: warmupSkipped } : undefined);
  const logger = options.logger ?? createLogger(`tributary:${topology.name}:backfill`);
  const events = backfillEvents(topology, options);
  logger.info({ table: events.table, from: new Date(from).toISOString(), to: new Date(to).toISOString(), warmupMs, writes: derived.kept, skips: derived.skipped }, `backfill of ${topology.name} from ${events.table}`);
  for (const table of derived.withoutOrigin) logger.warn({ table }, `table ${table} has no origin column (clickhouseTable origin: true): backfilled rows replace online rows of the same key there`);
  const result = await replayStoredEvents(topology, derived.topology, range, warmupMs, BACKFILL_ORIGIN, { ...options, logger });
  const outputs = Object.fromEntries(Object.entries(result.routed).filter(([output]) => output !== 'raw').map(([output, rows]) => [output, rows - (warmupSkipped[output] ?? 0)]));
  return { table: result.events.table, from, to, warmupMs, events: result.read, outputs, warmupSkipped, seconds: result.seconds };
}
