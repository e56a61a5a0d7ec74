import type { DeadLetter } from '../../core/batch.ts';
import type { SinkSpec } from '../sink.ts';
import { ClickHouseSink } from './clickhouse-sink.ts';
import { createTableSql, type ColumnDef } from '../../clickhouse/create-table.ts';
import { builtInKeyed } from '../../clickhouse/replacing.ts';
import { quoteTableName } from '../../clickhouse/sql.ts';

const COLUMNS: ColumnDef[] = [
  { name: 'topology', type: 'String' },
  { name: 'step', type: 'String', comment: 'Step that failed (decode, a named operator, a sink)' },
  { name: 'topic', type: 'String' },
  { name: 'partition', type: 'Int32' },
  { name: 'offset', type: 'String', comment: 'Kafka offset as a decimal string' },
  { name: 'error', type: 'String' },
  { name: 'raw_base64', type: 'String', comment: "The record's original bytes, base64 ('' when unknown)" },
  { name: 'raw_size', type: 'UInt32' },
  { name: 'key', type: 'String' },
  { name: 'event_timestamp', type: 'Int64', comment: 'Record timestamp, epoch ms (0 when unknown)' },
  { name: 'ingested_at', type: 'DateTime', default: 'now()' },
];

/** Every column but ingested_at, which the server fills in. */
const WRITTEN = COLUMNS.filter((c) => c.default === undefined).map((c) => c.name);

/**
 * One row per failed record and step: a replay after a crash dead-letters the same records again.
 * The old key, kept with `dedupe: false`, starts the same way.
 */
const KEY = ['topology', 'topic', 'partition', 'offset', 'step', 'key', 'event_timestamp'];
const UNDEDUPLICATED_KEY = ['topology', 'topic', 'partition', 'offset'];

export interface DeadLetterTableOptions {
  /**
   * true (default): a ReplacingMergeTree keyed by the record's provenance and step, so replays
   * add no rows once merged (count with FROM t FINAL). false: the plain MergeTree of earlier
   * versions, for a table created by one of them.
   */
  dedupe?: boolean;
}

/**
 * Dead letters in a ClickHouse table, one row per failed record with its original bytes
 * (base64, so that any bytes survive JSON exactly), ready to inspect and replay.
 */
export function clickhouseDeadLetters(table = 'dead_letters', options: DeadLetterTableOptions = {}): SinkSpec<DeadLetter> {
  quoteTableName(table);
  const dedupe = options.dedupe ?? true;
  return {
    description: `ClickHouse dead-letter table ${table}`,
    kind: 'clickhouse',
    tables: [table],
    create: (env) =>
      new ClickHouseSink<DeadLetter>(env, {
        table,
        plan: (dialect) => ({
          ddl: createTableSql(table, COLUMNS, { orderBy: dedupe ? KEY : UNDEDUPLICATED_KEY, replacing: dedupe ? {} : undefined, dialect }),
          columns: WRITTEN,
          toRow: (letter) => ({
            topology: env.topology,
            step: letter.step,
            topic: letter.topic,
            partition: letter.partition,
            offset: letter.offset,
            error: letter.error,
            raw_base64: letter.raw ? Buffer.from(letter.raw.buffer, letter.raw.byteOffset, letter.raw.byteLength).toString('base64') : '',
            raw_size: letter.raw ? letter.raw.byteLength : 0,
            key: letter.key ?? '',
            event_timestamp: letter.timestamp ?? 0,
          }),
          ...(dedupe ? builtInKeyed(KEY) : {}),
        }),
      }),
  };
}
