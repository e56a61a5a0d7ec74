import type { ClickHouseClient } from '@clickhouse/client';
import { connectClickHouse } from '../clickhouse/connection.ts';
import { quoteIdentifier, quoteString, quoteTableName } from '../clickhouse/sql.ts';
import { isNumericType, requireTableShape } from '../clickhouse/table-shape.ts';
import { createLogger } from '../observability/logger.ts';
import type { OnlineStateValue } from '../sinks/online-state.ts';
import { RedisKeyValueStore } from '../state/redis-store.ts';
import type { RedisConnection } from '../state/redis-connection.ts';
import { loadConfig } from '../topology/config.ts';
import { clickhouseTarget, redisTarget } from '../topology/connection-config.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import { backfillWarmupMs } from './backfill-warmup.ts';
import { BOOKKEEPING_COLUMNS, rowDifferences, type ParityDifference } from './parity-compare.ts';
import { parityTarget, parityTopology, RecomputedRows, rowKey, type ParityTarget } from './parity-plan.ts';
import { replayStoredEvents, type BackfillRange, type ReplayOptions } from './replay-run.ts';

export interface ParityOptions extends ReplayOptions {
  /** How long before `from` to read as warm-up; default the feature set's lookback. */
  warmupMs?: number;
  /** Compare the online state in Redis too (default: when REDIS_URL is set and the output has an online state sink). */
  redis?: boolean;
}

export interface ParityReport {
  topology: string;
  output: string;
  table: string;
  /** Windows ending in (from, to] are compared. */
  from: number;
  to: number;
  /** Events replayed (the warm-up's included). */
  events: number;
  /** Windows recomputed in range, and rows the table holds for the range (online, current feature version). */
  recomputed: number;
  stored: number;
  keys: number;
  /** Latest window per key touched, against Redis; null when not compared (no REDIS_URL or no online state sink). */
  redis: { prefix: string; compared: number; missing: number; newer: number } | null;
  /** Records of the replay that were late or dead letters (also in a healthy run: they match the online run's). */
  late: number;
  deadLetters: number;
  differences: ParityDifference[];
  seconds: number;
}

const ORIGIN = 'parity-audit';
/** Redis GETs in flight at once. */
const REDIS_READS_AT_ONCE = 200;

/**
 * Replays [from - warm-up, to) of the stored events through the topology's own feature code (the
 * backfill's replay, replay-run.ts) and compares every recomputed window ending in (from, to],
 * key by key and column by column, with the online rows the engine stored in the feature table,
 * and the latest recomputed window of each key with what the online state (Redis) holds now.
 * Reads only: nothing is written. Recomputed rows are held in memory (a few hundred bytes per
 * window), so audit an hour or a day at a time.
 */
export async function auditParity(topology: AnyTopology, range: BackfillRange, options: ParityOptions = {}): Promise<ParityReport> {
  const started = performance.now();
  const target = parityTarget(topology);
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? createLogger(`tributary:${topology.name}:${ORIGIN}`);
  const recomputed = new RecomputedRows(target, range.from, range.to);
  const replay = await replayStoredEvents(topology, parityTopology(topology, target, recomputed), range, options.warmupMs ?? backfillWarmupMs(topology), ORIGIN, { ...options, config, logger });

  const client = await connectClickHouse({ ...clickhouseTarget(config), logger });
  const differences: ParityDifference[] = [];
  let stored = 0;
  try {
    const storedRows = await readStoredRows(client, target, range);
    stored = storedRows.size;
    const columns = columnsOf(recomputed.rows.values());
    for (const [key, row] of recomputed.rows) {
      const entity = String(row[target.entityColumn]);
      const window = Number(row[target.timeColumn]);
      const kept = storedRows.get(key);
      if (kept === undefined) differences.push({ store: 'clickhouse', key: entity, window, column: '(row)', stored: undefined, recomputed: 'present' });
      else differences.push(...rowDifferences('clickhouse', entity, window, kept, row, columns.filter((c) => c in kept)));
    }
    for (const [key, row] of storedRows) {
      if (!recomputed.rows.has(key)) differences.push({ store: 'clickhouse', key: String(row[target.entityColumn]), window: Number(row[target.timeColumn]), column: '(row)', stored: 'present', recomputed: undefined });
    }
  } finally {
    await client.close().catch(() => {});
  }

  const useRedis = options.redis ?? true;
  const redisConnection = redisTarget(config);
  const redis = useRedis && redisConnection && target.state ? await compareOnlineState(redisConnection, topology.name, target, recomputed, differences, logger) : null;
  const keys = new Set([...recomputed.rows.values()].map((row) => String(row[target.entityColumn]))).size;
  differences.sort((a, b) => (a.store < b.store ? -1 : a.store > b.store ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : a.window - b.window || (a.column < b.column ? -1 : a.column > b.column ? 1 : 0)));
  return {
    topology: topology.name, output: target.output, table: target.table, from: range.from, to: range.to, events: replay.read,
    recomputed: recomputed.rows.size, stored, keys, redis, late: recomputed.late, deadLetters: recomputed.deadLetters + replay.deadLetters, differences,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The online rows of the current feature version with window in (from, to], the latest revision of each. */
async function readStoredRows(client: ClickHouseClient, target: ParityTarget, range: BackfillRange): Promise<Map<string, Record<string, unknown>>> {
  const shape = await requireTableShape(client, target.table, `table ${target.table}`, 'run the topology first (its sinks create the table), or fix the lifecycle\'s featuresTable');
  const time = quoteIdentifier(target.timeColumn);
  const where = [`${time} > ${Math.trunc(range.from)}`, `${time} <= ${Math.trunc(range.to)}`];
  if (shape.columns.has('featureVersion')) where.push(`featureVersion = ${quoteString(target.featureVersion)}`);
  if (shape.columns.has('origin')) where.push(`origin = 'online'`);
  const query = `SELECT ${[...shape.columns.keys()].map(quoteIdentifier).join(', ')} FROM ${quoteTableName(target.table)}${shape.final ? ' FINAL' : ''} WHERE ${where.join(' AND ')}`;
  const numeric = [...shape.columns].filter(([, type]) => isNumericType(type)).map(([name]) => name);
  const rows = new Map<string, Record<string, unknown>>();
  for (const row of await (await client.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>()) {
    // 18.16 quotes 64-bit integers in JSON.
    for (const name of numeric) if (typeof row[name] === 'string') row[name] = Number(row[name]);
    rows.set(rowKey(String(row[target.entityColumn]), Number(row[target.timeColumn])), row);
  }
  return rows;
}

/** Every key the replay touched: its latest recomputed window against the value Redis holds now. */
async function compareOnlineState(connection: RedisConnection, topology: string, target: ParityTarget, recomputed: RecomputedRows, differences: ParityDifference[], logger: ReturnType<typeof createLogger>): Promise<NonNullable<ParityReport['redis']>> {
  const latest = new Map<string, Record<string, unknown>>();
  for (const row of recomputed.rows.values()) {
    const entity = String(row[target.entityColumn]);
    const kept = latest.get(entity);
    if (kept === undefined || Number(row[target.timeColumn]) > Number(kept[target.timeColumn])) latest.set(entity, row);
  }
  const store = await RedisKeyValueStore.connect(connection, { prefix: `tributary:${topology}:`, logger });
  const summary = { prefix: `tributary:${topology}:${target.state!.prefix}`, compared: 0, missing: 0, newer: 0 };
  const columns = columnsOf(latest.values());
  const entries = [...latest];
  try {
    for (let start = 0; start < entries.length; start += REDIS_READS_AT_ONCE) {
      const chunk = entries.slice(start, start + REDIS_READS_AT_ONCE);
      const held = await Promise.all(chunk.map(([entity, row]) => store.get<OnlineStateValue<Record<string, unknown>>>(target.state!.storeKey({ value: row, key: entity, eventTime: Number(row[target.timeColumn]) - 1, topic: '', partition: -1, offset: '' }))));
      chunk.forEach(([entity, row], i) => compareHeld(entity, row, held[i]?.value));
    }
  } finally {
    await store.close();
  }
  return summary;

  function compareHeld(entity: string, row: Record<string, unknown>, value: Record<string, unknown> | undefined): void {
    const window = Number(row[target.timeColumn]);
    // Expired (the state's TTL) or never written: nothing to compare, counted.
    if (value === undefined || value === null || typeof value !== 'object') {
      summary.missing++;
      return;
    }
    const heldWindow = Number(value[target.timeColumn]);
    // The engine moved on past the range: a later window, which this replay did not compute.
    if (heldWindow > window) {
      summary.newer++;
      return;
    }
    summary.compared++;
    if (heldWindow !== window) differences.push({ store: 'redis', key: entity, window, column: '(window)', stored: value[target.timeColumn], recomputed: window });
    else differences.push(...rowDifferences('redis', entity, window, value, row, columns));
  }
}

/** The columns the feature code produced (the union over rows), without the stores' bookkeeping. */
function columnsOf(rows: Iterable<Record<string, unknown>>): string[] {
  const columns = new Set<string>();
  for (const row of rows) {
    for (const column of Object.keys(row)) if (!BOOKKEEPING_COLUMNS.has(column)) columns.add(column);
    if (columns.size > 0) break; // every row of one output has the same fields
  }
  return [...columns];
}
