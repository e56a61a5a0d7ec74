import type { ClickHouseClient } from '@clickhouse/client';
import { toMillis } from '../core/duration.ts';
import { ConfigError, TributaryError } from '../core/errors.ts';
import { lifecycleTableShape } from '../registry/compare-report.ts';
import { isNumericType } from '../clickhouse/table-shape.ts';
import { quoteIdentifier, quoteString, quoteTableName } from '../clickhouse/sql.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';
import { LabelIndex } from './label-join.ts';

/** One training example: the entity, the row's time and the model's input for it. */
export interface FeatureRow {
  entity: string;
  time: number;
  vector: number[];
}

export interface TimeRange {
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

export interface FeatureRows {
  /** Ordered by time, then entity: the order training sees them in (it decides the fit's last bits). */
  rows: FeatureRow[];
  /** Rows dropped because an earlier-read row had the same entity and time. */
  duplicates: number;
}

/**
 * The feature rows of the feature set's current version (column featureVersion), each
 * (entity, time) once: a replacing table is read with FINAL (the latest revision per row), and
 * where the table keeps an `origin` column (online rows next to backfilled ones), the online
 * row of a window wins, else the first origin by name. One query, not pages: the fit needs
 * every row in memory anyway (Newton steps pass over all of them), and paging a table without
 * a unique sort key would need FINAL per page. Rows are kept as vectors, not parsed objects.
 */
export async function readFeatureRows(client: ClickHouseClient, spec: LifecycleSpec, range: TimeRange = {}): Promise<FeatureRows> {
  const table = spec.featuresTable;
  const shape = await lifecycleTableShape(client, table);
  for (const required of [spec.entityColumn, spec.featuresTimeColumn, 'featureVersion']) {
    if (!shape.columns.has(required)) {
      throw new ConfigError(`lifecycle.featuresTable ${table}`, `has no column "${required}" (it has: ${[...shape.columns.keys()].join(', ')})`, 'point the lifecycle at the table the feature sink writes, with its entity and time columns (the featureVersion column comes from the feature schema)');
    }
  }
  const time = quoteIdentifier(spec.featuresTimeColumn);
  const where = [`featureVersion = ${quoteString(spec.featureSet.version)}`, ...rangeConditions(time, range)];
  const query = `SELECT ${[...shape.columns.keys()].map(quoteIdentifier).join(', ')} FROM ${quoteTableName(table)}${shape.final ? ' FINAL' : ''} WHERE ${where.join(' AND ')}`;
  const numeric = [...shape.columns].filter(([, type]) => isNumericType(type)).map(([name]) => name);
  const parsed = await (await client.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>();

  const byKey = new Map<string, FeatureRow & { origin: string }>();
  const featureCount = spec.featureSet.featureNames.length;
  for (const record of parsed) {
    // 18.16 quotes 64-bit integers in JSON: numbers become numbers before the feature code sees them.
    for (const name of numeric) if (record[name] !== null) record[name] = Number(record[name]);
    const vector = spec.featureSet.vector(record);
    if (vector.length !== featureCount || !vector.every(Number.isFinite)) {
      throw new TributaryError(`feature row ${JSON.stringify(record)} of ${table} gives the vector [${vector.join(', ')}], not ${featureCount} finite numbers. Fix: check that ${spec.featureSet.id}'s vector() matches the table's columns`, { code: 'TRAINING' });
    }
    const row = { entity: String(record[spec.entityColumn]), time: Number(record[spec.featuresTimeColumn]), vector, origin: typeof record.origin === 'string' ? record.origin : '' };
    const key = `${row.entity}\u0000${row.time}`;
    const kept = byKey.get(key);
    if (kept === undefined || preferred(row.origin, kept.origin)) byKey.set(key, row);
  }
  const rows = [...byKey.values()]
    .sort((a, b) => a.time - b.time || (a.entity < b.entity ? -1 : a.entity > b.entity ? 1 : 0))
    .map(({ entity, time, vector }) => ({ entity, time, vector }));
  return { rows, duplicates: parsed.length - rows.length };
}

/** Whether a row of origin `candidate` replaces one of origin `kept`: online first, then by name. */
function preferred(candidate: string, kept: string): boolean {
  if (candidate === kept) return false;
  if (candidate === 'online' || kept === 'online') return candidate === 'online';
  return candidate < kept;
}

/** The label events that can label rows in `range`: those in [from - window, to). */
export async function readLabels(client: ClickHouseClient, labels: LifecycleSpec['labels'], range: TimeRange = {}): Promise<LabelIndex> {
  await lifecycleTableShape(client, labels.table); // fails with the table's name when it is missing
  const window = toMillis(labels.window, 'lifecycle.labels.window');
  const time = quoteIdentifier(labels.timeColumn);
  const where = rangeConditions(time, { from: range.from === undefined ? undefined : range.from - window, to: range.to });
  // Copies of a label (replays) label the same rows, so the table is read without FINAL.
  const query = `SELECT ${quoteIdentifier(labels.entityColumn)} AS entity, ${time} AS time FROM ${quoteTableName(labels.table)}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`;
  const events = await (await client.query({ query, format: 'JSONEachRow' })).json<{ entity: string; time: string | number }>();
  return new LabelIndex(events.map((e) => ({ entity: String(e.entity), time: Number(e.time) })));
}

function rangeConditions(column: string, range: TimeRange): string[] {
  const conditions: string[] = [];
  if (range.from !== undefined) conditions.push(`${column} >= ${whole(range.from)}`);
  if (range.to !== undefined) conditions.push(`${column} < ${whole(range.to)}`);
  return conditions;
}

function whole(time: number): string {
  if (!Number.isFinite(time)) throw new ConfigError('time range', `${time} is not a time`, 'give epoch milliseconds or an ISO date');
  return String(Math.trunc(time));
}
