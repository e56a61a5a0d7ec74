import { ConfigError } from '../core/errors.ts';
import { avroFieldColumns, timeAliasColumn, type AvroFieldColumn } from './avro-columns.ts';
import { createTableSql, type ColumnDef } from './create-table.ts';
import type { ClickHouseDialect } from './dialect.ts';
import { quoteIdentifier } from './sql.ts';

export type { ColumnDef } from './create-table.ts';

export interface AvroDdlOptions {
  table: string;
  orderBy: string[];
  /** A timestamp-millis (or -micros) field: the table is partitioned by its day. */
  partitionByTimeField?: string;
  /** Appended after the schema's columns (e.g. provenance). */
  extraColumns?: ColumnDef[];
  /**
   * ReplacingMergeTree (create-table.ts); `version` must be among the schema's or the extra
   * columns. `bySource`: the key ends with the Kafka provenance, which fixes every field of the
   * row (the time field too), so copies of a row always share a partition.
   */
  replacing?: { version?: string; bySource?: boolean };
  dialect: ClickHouseDialect;
}

/**
 * CREATE TABLE IF NOT EXISTS for an Avro record schema, the same statement for 18.16 and
 * current servers (types in avro-columns.ts). Field docs become column comments where the
 * server supports them.
 */
export function ddlFromAvro(schema: object, options: AvroDdlOptions): string {
  const fields = avroFieldColumns(schema);
  const timeField = options.partitionByTimeField;
  const replacing = options.replacing;
  // Rows are replaced only within a partition: a key that could span two would keep both.
  if (replacing !== undefined && !replacing.bySource && timeField !== undefined && !options.orderBy.includes(timeField)) {
    const [kind, copies] = replacing.version === undefined ? ['deduplicated', 'copies'] : ['versioned', 'revisions'];
    throw new ConfigError(`clickhouse table ${options.table} timeField`, `"${timeField}" partitions a ${kind} table but is not in orderBy, so ${copies} of one key could land in different partitions and never replace each other`, `add "${timeField}" to orderBy, or drop timeField`);
  }
  return createTableSql(options.table, tableColumns(fields, options.extraColumns ?? []), {
    orderBy: options.orderBy,
    partitionBy: timeField === undefined ? undefined : dayPartition(fields, timeField, options.table),
    replacing: replacing === undefined ? undefined : { version: replacing.version },
    dialect: options.dialect,
  });
}

/** Each field's column, followed by its `_time` ALIAS for timestamps; then the extra columns. */
export function tableColumns(fields: AvroFieldColumn[], extraColumns: ColumnDef[]): ColumnDef[] {
  const columns: ColumnDef[] = [];
  for (const field of fields) {
    columns.push(field.column);
    if (field.timeUnit) columns.push(timeAliasColumn(field));
  }
  return columns.concat(extraColumns);
}

function dayPartition(fields: AvroFieldColumn[], name: string, table: string): string {
  const field = fields.find((f) => f.name === name);
  if (!field || !field.timeUnit || field.nullable) {
    const candidates = fields.filter((f) => f.timeUnit && !f.nullable).map((f) => f.name);
    throw new ConfigError(`clickhouse table ${table} timeField`, `"${name}" is not a non-null timestamp field of the schema`, `use one of: ${candidates.join(', ') || '(none: add a timestamp-millis field)'}`);
  }
  const divisor = field.timeUnit === 'micros' ? 1_000_000 : 1000;
  return `toYYYYMMDD(toDateTime(intDiv(${quoteIdentifier(name)}, ${divisor})))`;
}
