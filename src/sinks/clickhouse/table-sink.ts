import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StreamRecord } from '../../core/batch.ts';
import { ConfigError, errorMessage } from '../../core/errors.ts';
import type { SinkSpec } from '../sink.ts';
import { avroFieldColumns, type AvroFieldColumn } from '../../clickhouse/avro-columns.ts';
import { ddlFromAvro, tableColumns, type ColumnDef } from '../../clickhouse/avro-ddl.ts';
import { ClickHouseSink, type TablePlan } from './clickhouse-sink.ts';
import { versionColumnDef, versionValue } from '../../clickhouse/replacing.ts';
import { quoteTableName } from '../../clickhouse/sql.ts';

export interface ClickHouseTableOptions<T> {
  /** Avro schema file in schemas/ (e.g. 'payment.avsc'): the table's columns. */
  schema: string;
  orderBy: string[];
  /** A timestamp-millis field: the table is partitioned by its day. */
  timeField?: string;
  /** Adds _topic String, _partition Int32, _offset Int64 (-1 for derived records) from the record. */
  provenance?: boolean;
  /**
   * Keep only the latest revision of each orderBy key: the table is created as
   * ReplacingMergeTree(<versionColumn>), and merges keep the row with the highest version.
   * A schema field (a non-null int or long, not in orderBy), or a name the schema lacks: then
   * a `<name> UInt32 DEFAULT 0` column is added after the schema's, filled from the row's field
   * of that name (0 when absent). Merges are eventual: read with `FROM t FINAL`, or
   * `argMax(col, <versionColumn>) ... GROUP BY <orderBy>`, to see one row per key.
   * Replays are harmless too (see dedupe). An existing table keeps its engine and key: open()
   * fails unless it is ReplacingMergeTree(<versionColumn>) ordered by orderBy.
   */
  versionColumn?: string;
  /**
   * Makes replays harmless. After a crash the engine writes again what followed its last
   * checkpoint, in other batches; the table is then created as ReplacingMergeTree, whose merges
   * keep one row per sorting key, and inserts carry a deduplication token where the server has one.
   * - 'provenance' (raw events): one row per Kafka record. Adds the provenance columns and sorts
   *   by orderBy, then _topic, _partition, _offset. Rows without an offset (derived records) are
   *   one row per orderBy value.
   * - 'orderBy' (a natural key, e.g. a window result): one row per orderBy value, the last inserted
   *   kept. versionColumn implies it, and keeps the highest version instead.
   * Until a merge, copies of a row can be seen: count with `FROM t FINAL`. An existing table
   * with another engine or key fails open().
   */
  dedupe?: 'provenance' | 'orderBy';
  /**
   * Adds `origin String DEFAULT 'online'` (after the schema's and the version column) filled
   * from the engine's origin ('online', or 'backfill' under `tributary backfill`), and appends it
   * to the ORDER BY key: a replacing table then keeps backfilled rows next to the online rows of
   * the same key instead of merging them. Read one of them with `WHERE origin = 'online'`.
   */
  origin?: boolean;
  /**
   * The object to store, shaped like the schema's record (default: record.value). Only the
   * schema's fields are taken from it, in schema order.
   */
  toRow?: (record: StreamRecord<T>) => Record<string, unknown>;
  maxRows?: number;
  maxDelayMs?: number;
  maxBufferedRows?: number;
}

const PROVENANCE_COLUMNS: ColumnDef[] = [
  { name: '_topic', type: 'String', comment: 'Kafka topic of the source record' },
  { name: '_partition', type: 'Int32', comment: 'Kafka partition of the source record' },
  { name: '_offset', type: 'Int64', comment: 'Kafka offset of the source record (-1 for derived records)' },
];

const PROVENANCE = PROVENANCE_COLUMNS.map((c) => c.name);

const ORIGIN_COLUMN: ColumnDef = { name: 'origin', type: 'String', default: "'online'", comment: "What wrote the row: 'online', or 'backfill' (tributary backfill)" };

/** A clickhouseTable(...) spec, with what a backfill needs to find and read its table. */
export interface ClickHouseTableSpec<T> extends SinkSpec<StreamRecord<T>> {
  readonly kind: 'clickhouse';
  readonly table: string;
  /** The Avro schema file of its columns. */
  readonly schema: string;
  readonly timeField?: string;
  readonly origin: boolean;
}

/** Whether a sink spec is a clickhouseTable(...) (or one wrapped by withRollups). */
export function isClickHouseTableSpec(spec: SinkSpec<never>): spec is ClickHouseTableSpec<never> {
  const table = spec as Partial<ClickHouseTableSpec<unknown>>;
  return table.kind === 'clickhouse' && typeof table.table === 'string' && typeof table.schema === 'string';
}

/** The table's deduplication: versionColumn implies 'orderBy'; contradictions fail early. */
function dedupeOf(table: string, options: Pick<ClickHouseTableOptions<unknown>, 'dedupe' | 'provenance' | 'versionColumn'>): 'provenance' | 'orderBy' | undefined {
  const field = `clickhouse table ${table} dedupe`;
  const dedupe = options.dedupe;
  if (dedupe !== undefined && dedupe !== 'provenance' && dedupe !== 'orderBy') {
    throw new ConfigError(field, `${JSON.stringify(dedupe)} is not a deduplication`, "use 'provenance' (one row per Kafka record) or 'orderBy' (one row per orderBy value)");
  }
  if (dedupe === 'provenance' && options.provenance === false) {
    throw new ConfigError(field, "'provenance' identifies rows by the provenance columns, but provenance is false", 'drop provenance: false, or use dedupe: \'orderBy\'');
  }
  if (dedupe === 'provenance' && options.versionColumn !== undefined) {
    throw new ConfigError(field, `'provenance' keeps one row per Kafka record, versionColumn "${options.versionColumn}" one row per orderBy value`, "choose one: dedupe: 'provenance' for raw events, versionColumn for revised results");
  }
  return options.versionColumn !== undefined ? 'orderBy' : dedupe;
}

/** A ClickHouse table whose columns come from an Avro schema; created on open if absent. */
export function clickhouseTable<T>(table: string, options: ClickHouseTableOptions<T>): ClickHouseTableSpec<T> {
  quoteTableName(table); // a bad name fails when the topology is defined, not when it starts
  const dedupe = dedupeOf(table, options);
  const origin = options.origin === true;
  return {
    description: `ClickHouse table ${table} (${options.schema})`,
    kind: 'clickhouse',
    table,
    tables: [table],
    schema: options.schema,
    ...(options.timeField === undefined ? {} : { timeField: options.timeField }),
    origin,
    create: (env) =>
      new ClickHouseSink<StreamRecord<T>>(env, {
        table,
        maxRows: options.maxRows,
        maxDelayMs: options.maxDelayMs,
        maxBufferedRows: options.maxBufferedRows,
        eventTime: (record) => record.eventTime,
        plan: async (dialect) => {
          const schema = await loadSchema(env.schemasDir, options.schema, table);
          const fields = avroFieldColumns(schema);
          const provenance = options.provenance === true || dedupe === 'provenance';
          const version = options.versionColumn;
          // The added version column, where the schema has no column of that name (ALIAS ones included).
          const added = version !== undefined && !tableColumns(fields, []).some((c) => c.name === version) ? version : undefined;
          const extraColumns = (added === undefined ? [] : [versionColumnDef(added)]).concat(origin ? [ORIGIN_COLUMN] : [], provenance ? PROVENANCE_COLUMNS : []);
          const bySource = dedupe === 'provenance';
          const byKey = bySource ? options.orderBy.concat(PROVENANCE.filter((c) => !options.orderBy.includes(c))) : options.orderBy;
          const orderBy = origin && !byKey.includes(ORIGIN_COLUMN.name) ? byKey.concat(ORIGIN_COLUMN.name) : byKey;
          const replacing = dedupe === undefined ? undefined : { version, bySource };
          const ddl = ddlFromAvro(schema, { table, orderBy, partitionByTimeField: options.timeField, extraColumns, replacing, dialect });
          const columns = fields.map((f) => f.name).concat(extraColumns.map((c) => c.name));
          const encoders = recordEncoders(fields, options.toRow, provenance, added, origin ? (env.origin ?? 'online') : undefined);
          if (dedupe === undefined) return { ddl, columns, ...encoders } satisfies TablePlan<StreamRecord<T>>;
          return {
            ddl,
            columns,
            ...encoders,
            expected: { engine: 'ReplacingMergeTree', version, sortingKey: orderBy, optOut: version === undefined ? 'remove dedupe' : 'remove versionColumn' },
            identity: {
              columns: version === undefined ? orderBy : orderBy.concat(version),
              // By offsets alone, a backfill's rows would carry the tokens of the online inserts
              // of the same records, and the server would drop them: with an origin, every column.
              ...(bySource && !origin ? { source: { topic: '_topic', partition: '_partition', offset: '_offset' } } : {}),
            },
          } satisfies TablePlan<StreamRecord<T>>;
        },
      }),
  };
}

/**
 * The row from the schema's fields in schema order (then the added version, the origin, then provenance), converting where JSON
 * needs it: as a column-ordered array (JSONCompactEachRow) and as an object (JSONEachRow).
 * Both read the same fields through the same converters, so they store the same row.
 */
function recordEncoders<T>(
  fields: AvroFieldColumn[],
  toRow: ((record: StreamRecord<T>) => Record<string, unknown>) | undefined,
  provenance: boolean,
  version: string | undefined,
  origin: string | undefined,
): Pick<TablePlan<StreamRecord<T>>, 'toValues' | 'toRow'> {
  const toVersion = version === undefined ? undefined : versionValue(version);
  const names = fields.map((f) => f.name);
  const converters = fields.map((f) => f.convert);
  const count = names.length;
  // Two plain loops rather than a shared helper: this runs per row, and each stays as cheap as
  // the object builder it replaces was (measured with scripts/bench-clickhouse.ts).
  return {
    toValues: (record) => {
      const source = toRow ? toRow(record) : (record.value as Record<string, unknown>);
      // push, not new Array(n): a packed array, which JSON.stringify walks faster than a holey one.
      const values: unknown[] = [];
      for (let i = 0; i < count; i++) {
        const value = source[names[i]!];
        const convert = converters[i];
        values.push(convert ? convert(value) : value);
      }
      if (toVersion) values.push(toVersion(source[version!]));
      if (origin !== undefined) values.push(origin);
      if (provenance) values.push(record.topic, record.partition, offsetValue(record));
      return values;
    },
    toRow: (record) => {
      const source = toRow ? toRow(record) : (record.value as Record<string, unknown>);
      const row: Record<string, unknown> = {};
      for (let i = 0; i < count; i++) {
        const value = source[names[i]!];
        const convert = converters[i];
        row[names[i]!] = convert ? convert(value) : value;
      }
      if (toVersion) row[version!] = toVersion(source[version!]);
      if (origin !== undefined) row.origin = origin;
      if (provenance) {
        row._topic = record.topic;
        row._partition = record.partition;
        row._offset = offsetValue(record);
      }
      return row;
    },
  };
}

/** A decimal string keeps offsets above 2^53 exact; both servers parse quoted Int64. -1: derived. */
function offsetValue(record: StreamRecord<unknown>): string | number {
  return record.offset === '' ? -1 : record.offset;
}

async function loadSchema(schemasDir: string, file: string, table: string): Promise<object> {
  const path = join(schemasDir, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`clickhouse table ${table} schema`, `cannot read ${path} (${errorMessage(error)})`, 'name an .avsc file in the schemas folder, e.g. "payment.avsc"');
  }
  try {
    return JSON.parse(text) as object;
  } catch (error) {
    throw new ConfigError(`clickhouse table ${table} schema`, `${path} is not valid JSON (${errorMessage(error)})`, 'fix the .avsc file');
  }
}
