import { ConfigError } from '../core/errors.ts';
import { quoteIdentifier, quoteTableName } from './sql.ts';

/** One aggregate of a rollup: a ClickHouse aggregate function and its argument expressions. */
export interface RollupMeasure {
  fn: string;
  args: string[];
}

/**
 * Exact distinct count of the expressions' values, e.g. countDistinct('cardId', 'windowEnd') for
 * windows. Replays and retried inserts write the same values again, which it counts once: the
 * right measure for "how many payments / windows / cards".
 */
export const countDistinct = (...expressions: string[]): RollupMeasure => ({ fn: 'uniqExact', args: expressions });
/** countDistinct of the rows where `condition` (a SQL boolean) holds. */
export const countDistinctIf = (condition: string, ...expressions: string[]): RollupMeasure => ({ fn: 'uniqExactIf', args: [...expressions, condition] });
/** Rows inserted: compact (one number per group), but it counts every copy a replay or a retried insert writes. */
export const countRows = (): RollupMeasure => ({ fn: 'count', args: [] });
/** Sum of an expression. Counts every inserted copy: a replay after a crash adds its rows again. */
export const sumOf = (expression: string): RollupMeasure => ({ fn: 'sum', args: [expression] });
/** Largest value (copies change nothing). */
export const maxOf = (expression: string): RollupMeasure => ({ fn: 'max', args: [expression] });
/** Smallest value (copies change nothing). */
export const minOf = (expression: string): RollupMeasure => ({ fn: 'min', args: [expression] });

/**
 * A rollup: a table's rows aggregated by some columns, kept up to date by ClickHouse on every
 * insert (a materialized view), queried like a table. Expressions are SQL over the source
 * table's stored columns (not its ALIAS columns, such as `ts_time`: 18.16 does not compute
 * those for materialized views).
 */
export interface RollupDefinition {
  /** The view analysts query; the partial aggregates live in `<name>_mv`. */
  name: string;
  /** Group-by columns: output name → expression, e.g. { minute: 'toStartOfMinute(toDateTime(intDiv(windowEnd, 1000)))' }. */
  groupBy: Record<string, string>;
  /** Aggregates: output name → measure. */
  measures: Record<string, RollupMeasure>;
  /** Columns computed from the measures and group-by columns by name, e.g. { fraud_rate: 'flagged / predictions' }. */
  derived?: Record<string, string>;
  /** PARTITION BY of the stored aggregates, over group-by columns, e.g. 'toYYYYMM(minute)'. */
  partitionBy?: string;
}

/** The statements that make a rollup, and the columns its view must have. */
export interface RollupPlan {
  name: string;
  storage: string;
  /** CREATE MATERIALIZED VIEW IF NOT EXISTS <name>_mv ... POPULATE AS SELECT ... FROM <source>. */
  materializedView: string;
  /** CREATE VIEW IF NOT EXISTS <name> AS SELECT ... -Merge(...) FROM <name>_mv GROUP BY .... */
  view: string;
  columns: string[];
  /** Every expression over the source table, to check against its columns. */
  sourceExpressions: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FUNCTION = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * The DDL of a rollup over `source`, the same for ClickHouse 18.16, current servers and chDB:
 * an AggregatingMergeTree materialized view holding `<fn>State` per group (so merges of parts
 * and reads agree whatever order rows came in), and a plain view that finishes the states with
 * `<fn>Merge` and GROUP BY, so analysts read final numbers. POPULATE fills it from the rows the
 * source table has when it is created.
 */
export function rollupPlan(source: string, rollup: RollupDefinition): RollupPlan {
  const field = `rollup ${rollup.name}`;
  const storage = `${rollup.name}_mv`;
  quoteTableName(rollup.name);
  quoteTableName(storage);
  const dimensions = Object.entries(rollup.groupBy);
  const measures = Object.entries(rollup.measures);
  const derived = Object.entries(rollup.derived ?? {});
  if (dimensions.length === 0) throw new ConfigError(`${field} groupBy`, 'is empty', "group by at least one column, e.g. { minute: 'toStartOfMinute(toDateTime(intDiv(ts, 1000)))' }");
  if (measures.length === 0) throw new ConfigError(`${field} measures`, 'is empty', "add a measure, e.g. { payments: countDistinct('paymentId') }");
  const columns = [...dimensions, ...measures, ...derived].map(([name]) => name);
  const seen = new Set<string>();
  for (const name of columns) {
    if (!NAME.test(name)) throw new ConfigError(field, `"${name}" is not a plain column name`, 'use letters, digits and underscores');
    if (seen.has(name)) throw new ConfigError(field, `column "${name}" is defined twice`, 'give each group-by column, measure and derived column its own name');
    seen.add(name);
  }
  for (const [name, measure] of measures) {
    if (!FUNCTION.test(measure.fn) || !Array.isArray(measure.args)) throw new ConfigError(`${field} measures.${name}`, `${JSON.stringify(measure)} is not an aggregate`, 'use countDistinct, countDistinctIf, countRows, sumOf, maxOf or minOf');
  }
  // The stored state columns get a suffix: `uniqExactMerge(x) AS x` would make ClickHouse
  // substitute the alias into its own definition.
  const state = (name: string) => quoteIdentifier(`${name}_state`);
  const keys = dimensions.map(([name]) => quoteIdentifier(name));
  const partition = rollup.partitionBy === undefined ? '' : ` PARTITION BY ${rollup.partitionBy}`;
  const materializedView =
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${quoteTableName(storage)}\n` +
    `ENGINE = AggregatingMergeTree()${partition} ORDER BY (${keys.join(', ')})\n` +
    `POPULATE AS SELECT\n` +
    [...dimensions.map(([name, expression]) => `  ${expression} AS ${quoteIdentifier(name)}`), ...measures.map(([name, m]) => `  ${m.fn}State(${m.args.join(', ')}) AS ${state(name)}`)].join(',\n') +
    `\nFROM ${quoteTableName(source)}\nGROUP BY ${keys.join(', ')}`;
  const view =
    `CREATE VIEW IF NOT EXISTS ${quoteTableName(rollup.name)} AS SELECT\n` +
    [...keys.map((key) => `  ${key}`), ...measures.map(([name, m]) => `  ${m.fn}Merge(${state(name)}) AS ${quoteIdentifier(name)}`), ...derived.map(([name, expression]) => `  ${expression} AS ${quoteIdentifier(name)}`)].join(',\n') +
    `\nFROM ${quoteTableName(storage)}\nGROUP BY ${keys.join(', ')}`;
  return {
    name: rollup.name,
    storage,
    materializedView,
    view,
    columns,
    sourceExpressions: [...dimensions.map(([, expression]) => expression), ...measures.flatMap(([, m]) => m.args)],
  };
}
