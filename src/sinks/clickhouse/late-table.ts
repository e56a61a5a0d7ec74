import type { LateRecord } from '../../core/batch.ts';
import type { SinkSpec } from '../sink.ts';
import { ClickHouseSink } from './clickhouse-sink.ts';
import { createTableSql, type ColumnDef } from '../../clickhouse/create-table.ts';
import { builtInKeyed } from '../../clickhouse/replacing.ts';
import { quoteTableName } from '../../clickhouse/sql.ts';

const COLUMNS: ColumnDef[] = [
  { name: 'topology', type: 'String' },
  { name: 'step', type: 'String', comment: 'Windowed step the record was late for' },
  { name: 'key', type: 'String' },
  { name: 'event_time', type: 'Int64', comment: 'Event time, epoch ms' },
  { name: 'event_time_time', type: 'DateTime', alias: 'toDateTime(intDiv(`event_time`, 1000))', comment: 'event_time as DateTime (seconds)' },
  { name: 'watermark', type: 'Int64', comment: 'Watermark when the record arrived, epoch ms' },
  { name: 'topic', type: 'String' },
  { name: 'partition', type: 'Int32' },
  { name: 'offset', type: 'String' },
  { name: 'payload', type: 'String', comment: 'The record value as JSON' },
  { name: 'ingested_at', type: 'DateTime', default: 'now()' },
];

const WRITTEN = COLUMNS.filter((c) => c.default === undefined && c.alias === undefined).map((c) => c.name);

/**
 * One row per late record and step: a replay after a crash finds the same records late again.
 * The payload tells apart records that share a provenance (the outputs of a join); `watermark`
 * depends on batch timing, so it is no part of the key. The old key is a prefix of the new one.
 */
const KEY = ['topology', 'step', 'event_time', 'topic', 'partition', 'offset', 'key', 'payload'];
const UNDEDUPLICATED_KEY = ['topology', 'step', 'event_time'];

export interface LateTableOptions {
  /**
   * true (default): a ReplacingMergeTree keyed by step, provenance, key and payload, so replays
   * add no rows once merged (count with FROM t FINAL). false: the plain MergeTree of earlier
   * versions, for a table created by one of them.
   */
  dedupe?: boolean;
}

/** Records that arrived after their windows closed, kept for analysis and backfills. */
export function clickhouseLateRecords(table = 'late_records', options: LateTableOptions = {}): SinkSpec<LateRecord> {
  quoteTableName(table);
  const dedupe = options.dedupe ?? true;
  return {
    description: `ClickHouse late-record table ${table}`,
    kind: 'clickhouse',
    tables: [table],
    create: (env) =>
      new ClickHouseSink<LateRecord>(env, {
        table,
        plan: (dialect) => ({
          ddl: createTableSql(table, COLUMNS, { orderBy: dedupe ? KEY : UNDEDUPLICATED_KEY, replacing: dedupe ? {} : undefined, dialect }),
          columns: WRITTEN,
          toRow: (late) => ({
            topology: env.topology,
            step: late.step,
            key: late.key,
            event_time: epochMillis(late.eventTime),
            watermark: epochMillis(late.watermark),
            topic: late.topic,
            partition: late.partition,
            offset: late.offset,
            payload: payloadJson(late.value),
          }),
          ...(dedupe ? builtInKeyed(KEY) : {}),
        }),
      }),
  };
}

/** Int64 columns cannot hold NaN or ±Infinity (a watermark before any data is -Infinity). */
function epochMillis(ms: number): number {
  return Number.isFinite(ms) ? Math.trunc(ms) : 0;
}

function payloadJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
  } catch (error) {
    // A late record must never stop the sink: keep what can be said about the value.
    return JSON.stringify({ unserializable: String(error) });
  }
}
