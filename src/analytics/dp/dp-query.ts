import { SqlQueryError } from '../sql-errors.ts';

/** What a DP query computes: noisy counts, sums or means (by group), or a histogram of a column. */
export const DP_AGGREGATES = ['count', 'sum', 'avg', 'histogram'] as const;
export type DpAggregate = (typeof DP_AGGREGATES)[number];

/**
 * The structured form analysts send to POST /sql?dp=1 (README, "Data protection"). No SQL text:
 * Tributary writes the statement itself from these names, each a plain identifier, quoted.
 */
export interface DpQuery {
  table: string;
  aggregate: DpAggregate;
  /** sum, avg, histogram: the numeric column. */
  column?: string;
  /** count, sum, avg: one answer per value of this column. */
  groupBy?: string;
  /** Group keys declared public (released, zeros included); without them groups pass a noisy threshold. */
  groups?: string[];
  /** sum, avg, histogram: values are clamped to [lower, upper] in the SQL. */
  lower?: number;
  upper?: number;
  /** sum, avg: the unit values are rounded to (default 1); histogram: the bin width. */
  step?: number;
  /** The privacy loss this query spends. */
  epsilon: number;
  /** Rows one subject may contribute (default and cap: TRIBUTARY_DP_ROWS_PER_SUBJECT / _MAX). */
  rowsPerSubject?: number;
}

/** The query in whole units: what the SQL and the noise are built from. */
export interface CheckedDpQuery extends DpQuery {
  microEpsilon: number;
  rowsPerSubject: number;
  step: number;
  /** sum, avg: bounds in units of step. */
  lowerUnits: number;
  upperUnits: number;
  /** histogram: number of bins. */
  bins: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const MAX_GROUPS = 1_000;
export const MAX_BOUND_UNITS = 1_000_000;
const MIN_MICRO_EPSILON = 1_000; // ε >= 0.001

const bad = (message: string) => new SqlQueryError('BAD_REQUEST', `DP query: ${message}`);

/** Reads and checks the JSON body of a DP query; throws SqlQueryError BAD_REQUEST naming the field. */
export function parseDpQuery(body: string, limits: { defaultRowsPerSubject: number; maxRowsPerSubject: number; maxEpsilon: number }): CheckedDpQuery {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw bad('the body is not JSON: send {"table": ..., "aggregate": "count", "epsilon": 0.5, ...}');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('the body must be a JSON object');
  const input = raw as Record<string, unknown>;
  const known = new Set(['table', 'aggregate', 'column', 'groupBy', 'groups', 'lower', 'upper', 'step', 'epsilon', 'rowsPerSubject']);
  const unknown = Object.keys(input).filter((key) => !known.has(key));
  if (unknown.length > 0) throw bad(`unknown field ${unknown.join(', ')}`);
  const aggregate = input.aggregate;
  if (typeof aggregate !== 'string' || !(DP_AGGREGATES as readonly string[]).includes(aggregate)) throw bad(`aggregate must be one of ${DP_AGGREGATES.join(', ')}`);
  const agg = aggregate as DpAggregate;
  const table = identifier(input.table, 'table', true)!;
  const needsColumn = agg !== 'count';
  const column = identifier(input.column, 'column', needsColumn);
  if (!needsColumn && column !== undefined) throw bad('count takes no column');
  const groupBy = identifier(input.groupBy, 'groupBy', false);
  if (agg === 'histogram' && groupBy !== undefined) throw bad('a histogram has its bins as groups: leave groupBy out');
  const groups = groupList(input.groups, groupBy);
  const epsilon = input.epsilon;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon <= 0 || epsilon > limits.maxEpsilon) throw bad(`epsilon must be a number in (0, ${limits.maxEpsilon}]`);
  const microEpsilon = Math.round(epsilon * 1e6);
  if (microEpsilon < MIN_MICRO_EPSILON) throw bad('epsilon must be at least 0.001');
  const rowsPerSubject = input.rowsPerSubject ?? limits.defaultRowsPerSubject;
  if (typeof rowsPerSubject !== 'number' || !Number.isSafeInteger(rowsPerSubject) || rowsPerSubject < 1 || rowsPerSubject > limits.maxRowsPerSubject) {
    throw bad(`rowsPerSubject must be a whole number from 1 to ${limits.maxRowsPerSubject}`);
  }
  const step = input.step ?? 1;
  if (typeof step !== 'number' || !Number.isFinite(step) || step <= 0) throw bad('step must be a positive number');
  let lowerUnits = 0;
  let upperUnits = 0;
  let bins = 0;
  if (needsColumn) {
    const { lower, upper } = input;
    if (typeof lower !== 'number' || typeof upper !== 'number' || !Number.isFinite(lower) || !Number.isFinite(upper) || lower >= upper) {
      throw bad(`${agg} needs bounds: numbers lower < upper (values are clamped to them)`);
    }
    lowerUnits = wholeUnits(lower, step, 'lower');
    upperUnits = wholeUnits(upper, step, 'upper');
    if (agg === 'histogram') {
      bins = upperUnits - lowerUnits;
      if (bins > MAX_GROUPS) throw bad(`a histogram has at most ${MAX_GROUPS} bins: (upper - lower) / step is ${bins}`);
    }
  } else if (input.lower !== undefined || input.upper !== undefined) {
    throw bad('count takes no bounds');
  }
  return { table, aggregate: agg, ...(column === undefined ? {} : { column }), ...(groupBy === undefined ? {} : { groupBy }), ...(groups === undefined ? {} : { groups }), epsilon, microEpsilon, rowsPerSubject, step, lowerUnits, upperUnits, bins };
}

function identifier(value: unknown, field: string, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) throw bad(`${field} must be a plain column or table name (letters, digits, underscores)`);
  return value;
}

function groupList(value: unknown, groupBy: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (groupBy === undefined) throw bad('groups needs groupBy');
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_GROUPS || !value.every((g) => typeof g === 'string' || typeof g === 'number')) {
    throw bad(`groups must be a list of 1 to ${MAX_GROUPS} keys (strings or numbers)`);
  }
  const keys = value.map(String);
  if (new Set(keys).size !== keys.length) throw bad('groups lists a key twice');
  return keys;
}

/** A bound as a whole number of steps (the noise is integer, so the SQL sums whole units). */
function wholeUnits(bound: number, step: number, field: string): number {
  const units = bound / step;
  const rounded = Math.round(units);
  if (Math.abs(units - rounded) > 1e-9 * Math.max(1, Math.abs(units))) throw bad(`${field} must be a whole multiple of step (${step})`);
  if (Math.abs(rounded) > MAX_BOUND_UNITS) throw bad(`${field} / step must be within ±${MAX_BOUND_UNITS}: use a coarser step`);
  return rounded;
}
