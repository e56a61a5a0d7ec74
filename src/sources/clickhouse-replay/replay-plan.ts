import type { ClickHouseClient } from '@clickhouse/client';
import { requireTableShape } from '../../clickhouse/table-shape.ts';
import { ConfigError } from '../../core/errors.ts';
import { quoteIdentifier, quoteTableName } from '../../clickhouse/sql.ts';
import { fieldDecoders, timeFieldIndex, type FieldDecoder } from './row-decoders.ts';

/** One row of the events table as the replay hands it on. */
export interface ReplayRow {
  value: Record<string, unknown>;
  time: number;
  /** The Kafka record the row came from, where the table keeps provenance columns. */
  source?: { topic: string; partition: number; offset: string };
}

/** What the replay reads from one table, checked against the table as it is. */
export interface ReplayPlan {
  table: string;
  /** The selected columns, quoted and comma-separated. */
  columns: string;
  /** `<table>` or `<table> FINAL`. */
  source: string;
  /** Quoted time column, for WHERE and ORDER BY. */
  time: string;
  /** Columns that order rows of equal time (Kafka order where the table has provenance). */
  tiebreak: string[];
  final: boolean;
  provenance: boolean;
  /** A JSONCompact result row (columns in SELECT order) → the record's value and provenance. */
  toRow: (values: unknown[]) => ReplayRow;
}

export interface ReplayPlanOptions {
  table: string;
  /** The Avro record schema the table was created from (clickhouseTable). */
  schema: object;
  timeColumn: string;
  /** Read with FINAL; default: when the engine collapses rows (ReplacingMergeTree and kin). */
  final?: boolean;
}

const PROVENANCE = ['_topic', '_partition', '_offset'];

/**
 * Checks the table against the schema (system.tables, system.columns: both servers have them)
 * and plans the query. A schema field the table lacks is read as its Avro default (a field added
 * since the table was created); without a default that fails here, naming the field.
 */
export async function planReplay(client: ClickHouseClient, options: ReplayPlanOptions): Promise<ReplayPlan> {
  const { table } = options;
  const quoted = quoteTableName(table);
  const field = `clickhouse replay ${table}`;
  const decoders = fieldDecoders(options.schema);
  const timeIndex = timeFieldIndex(decoders, options.timeColumn, table);
  const shape = await requireTableShape(client, table, field, 'name the raw events table the topology writes (its raw ClickHouse sink), e.g. --table payments');
  const stored = shape.columns;
  const present = decoders.map((d) => stored.has(d.name));
  const missing = decoders.filter((d, i) => !present[i] && !d.hasDefault).map((d) => d.name);
  if (missing.length > 0 || !present[timeIndex]) {
    throw new ConfigError(field, `the table has no column ${[...new Set([...missing, options.timeColumn])].filter((c) => !stored.has(c)).join(', ')} of the schema`, 'give the schema the table was created with (or defaults for fields added since)');
  }
  const provenance = PROVENANCE.every((c) => stored.has(c));
  if (options.final === true && !shape.final) throw new ConfigError(`${field} final`, `FINAL needs a ReplacingMergeTree (or another collapsing engine); the table is ${shape.engine}`, 'leave final unset');
  const final = options.final ?? shape.final;
  const selected = decoders.filter((_, i) => present[i]).map((d) => d.name).concat(provenance ? PROVENANCE : []);
  const time = quoteIdentifier(options.timeColumn);
  // Provenance gives each row its Kafka place; without it every column orders equal times.
  const tiebreak = (provenance ? PROVENANCE : selected.filter((c) => c !== options.timeColumn)).map(quoteIdentifier);
  return {
    table,
    columns: selected.map(quoteIdentifier).join(', '),
    source: `${quoted}${final ? ' FINAL' : ''}`,
    time,
    tiebreak,
    final,
    provenance,
    toRow: rowConverter(decoders, present, timeIndex, provenance),
  };
}

function rowConverter(decoders: FieldDecoder[], present: boolean[], timeIndex: number, provenance: boolean): (values: unknown[]) => ReplayRow {
  const count = decoders.length;
  const timeName = decoders[timeIndex]!.name;
  return (values) => {
    const value: Record<string, unknown> = {};
    let column = 0;
    for (let i = 0; i < count; i++) {
      const decoder = decoders[i]!;
      value[decoder.name] = present[i] ? decoder.decode(values[column++]) : decoder.defaultValue;
    }
    const row: ReplayRow = { value, time: value[timeName] as number };
    if (provenance) {
      const offset = String(values[column + 2]);
      // -1 marks a derived record (no Kafka offset), which StreamRecord spells ''.
      row.source = { topic: String(values[column]), partition: Number(values[column + 1]), offset: offset === '-1' ? '' : offset };
    }
    return row;
  };
}
