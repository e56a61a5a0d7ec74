import { quoteIdentifier } from '../../clickhouse/sql.ts';
import type { CheckedDpQuery } from './dp-query.ts';

/** Names the generated statement gives its own columns (unlikely in a topology's table). */
const SUBJECT = quoteIdentifier('__tributary_dp_subject');
const KEY = quoteIdentifier('__tributary_dp_key');
const VALUE = quoteIdentifier('__tributary_dp_value');

/** Which true aggregates a query needs: the row count, the sum of clamped units, or both. */
export interface DpParts {
  count: boolean;
  sum: boolean;
}

export function dpParts(query: CheckedDpQuery): DpParts {
  switch (query.aggregate) {
    case 'count':
    case 'histogram':
      return { count: true, sum: false };
    case 'avg':
      return { count: true, sum: true };
    case 'sum':
      // Groups not declared public are released by a noisy count over a threshold.
      return { count: query.groupBy !== undefined && query.groups === undefined, sum: true };
  }
}

/**
 * The statement a DP query runs, written by Tributary (never the analyst's text), valid on
 * ClickHouse 18.16 and on chDB 26:
 *
 *   SELECT toString(key) AS key, count() AS n, sum(value) AS total FROM (
 *     SELECT subject, key, value FROM db.table [WHERE column IS NOT NULL]
 *     LIMIT k BY subject)            -- each subject contributes at most k rows
 *   [GROUP BY key]
 *
 * value = greatest(least(toInt64(round(column / step)), upper), lower): clamped whole units,
 * so one row moves a sum by at most max(|lower|, |upper|) units. A histogram's key is the bin
 * index, clamped to the bins. Every name is a checked identifier, quoted.
 */
export function dpStatement(query: CheckedDpQuery, database: string, subjectColumn: string): string {
  const column = query.column === undefined ? undefined : quoteIdentifier(query.column);
  const step = numberLiteral(query.step);
  let key = "''";
  if (query.aggregate === 'histogram') {
    key = `least(greatest(toInt64(floor(${column} / ${step})) - (${query.lowerUnits}), 0), ${query.bins - 1})`;
  } else if (query.groupBy !== undefined) {
    key = `toString(${quoteIdentifier(query.groupBy)})`;
  }
  const value = column !== undefined && query.aggregate !== 'histogram' ? `greatest(least(toInt64(round(${column} / ${step})), ${query.upperUnits}), ${query.lowerUnits})` : '0';
  const where = column !== undefined ? ` WHERE ${column} IS NOT NULL` : '';
  const inner = `SELECT ${quoteIdentifier(subjectColumn)} AS ${SUBJECT}, ${key} AS ${KEY}, ${value} AS ${VALUE} FROM ${quoteIdentifier(database)}.${quoteIdentifier(query.table)}${where} LIMIT ${query.rowsPerSubject} BY ${SUBJECT}`;
  const grouped = query.groupBy !== undefined || query.aggregate === 'histogram';
  const outerKey = grouped ? `toString(${KEY})` : "''";
  return `SELECT ${outerKey} AS dp_key, count() AS dp_n, sum(${VALUE}) AS dp_total FROM (${inner})${grouped ? ` GROUP BY ${KEY}` : ''}`;
}

/** A positive finite number as a SQL literal ClickHouse reads back exactly. */
function numberLiteral(value: number): string {
  const text = String(value);
  return /^\d+(\.\d+)?(e[-+]?\d+)?$/.test(text) ? text : value.toExponential();
}
