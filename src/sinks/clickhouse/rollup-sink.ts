import type { ClickHouseClient } from '@clickhouse/client';
import { ConfigError } from '../../core/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { SinkSpec } from '../sink.ts';
import { toSinkError } from '../../clickhouse/errors.ts';
import { rollupPlan, type RollupDefinition, type RollupPlan } from '../../clickhouse/rollup-view.ts';
import { quoteString } from '../../clickhouse/sql.ts';

export { countDistinct, countDistinctIf, countRows, maxOf, minOf, sumOf, type RollupDefinition, type RollupMeasure } from '../../clickhouse/rollup-view.ts';

/**
 * A clickhouseTable(...) sink whose open() also creates rollups of its table (rollup-view.ts),
 * after the table itself: materialized views that ClickHouse keeps up to date on each insert.
 * Existing rollups are kept (CREATE ... IF NOT EXISTS); one whose columns differ from its
 * definition fails open() with the statements that rebuild it.
 *
 * @example
 * predictions: [withRollups(clickhouseTable('fraud_predictions', {...}), [fraudRatePerMinute])]
 */
export function withRollups<T>(table: SinkSpec<T>, rollups: RollupDefinition[]): SinkSpec<T> {
  // Mistakes in a definition fail when the topology is defined, not when it starts.
  for (const rollup of rollups) rollupPlan('source_table', rollup);
  return {
    // The table's own properties (kind, and a clickhouseTable's table and schema) stay visible.
    ...table,
    description: `${table.description}, rollups ${rollups.map((r) => r.name).join(', ')}`,
    // The views analysts query; their `_mv` storage is read through them.
    tables: [...(table.tables ?? []), ...rollups.map((r) => r.name)],
    create(env) {
      const sink = table.create(env);
      const source = /^clickhouse:(.+)$/.exec(sink.name)?.[1];
      if (source === undefined) throw new ConfigError(`rollups of ${sink.name}`, 'withRollups wraps a ClickHouse table sink', 'pass clickhouseTable(...) as its first argument');
      const openTable = sink.open.bind(sink);
      // The same sink object, so the runtime sees nothing but a longer open().
      sink.open = async () => {
        await openTable();
        await createRollups(await env.clickhouse(), source, rollups, env.logger);
      };
      return sink;
    },
  };
}

interface SourceColumn {
  name: string;
  default_kind: string;
}

/** Creates each rollup of `source` that does not exist yet, and checks those that do. */
export async function createRollups(client: ClickHouseClient, source: string, rollups: RollupDefinition[], logger: Logger): Promise<void> {
  if (rollups.length === 0) return;
  const columns = await rows<SourceColumn>(client, `SELECT name, default_kind FROM system.columns WHERE database = currentDatabase() AND table = ${quoteString(source)}`);
  for (const rollup of rollups) {
    const plan = rollupPlan(source, rollup);
    checkAgainstSource(plan, rollup, columns);
    for (const statement of [plan.materializedView, plan.view]) {
      try {
        await client.command({ query: statement });
      } catch (error) {
        throw toSinkError(`clickhouse:${source}`, `creating rollup ${plan.name}`, error);
      }
    }
    await checkExistingView(client, plan);
    logger.debug({ rollup: plan.name, source }, `rollup ${plan.name} of ${source} ready`);
  }
}

/**
 * Expressions may use stored columns only (18.16 does not compute ALIAS columns for a
 * materialized view, and its inserts would then fail), and an output name that is also a
 * source column must be that column: ClickHouse would otherwise put the alias in its place.
 */
function checkAgainstSource(plan: RollupPlan, rollup: RollupDefinition, columns: SourceColumn[]): void {
  const field = `rollup ${plan.name}`;
  const aliases = new Set(columns.filter((c) => c.default_kind === 'ALIAS').map((c) => c.name));
  const stored = new Set(columns.filter((c) => c.default_kind !== 'ALIAS').map((c) => c.name));
  for (const expression of plan.sourceExpressions) {
    const alias = identifiers(expression).find((name) => aliases.has(name));
    if (alias !== undefined) {
      throw new ConfigError(field, `"${expression}" uses the ALIAS column ${alias}, which materialized views on ClickHouse 18.16 cannot read`, `write its definition over stored columns instead, e.g. toDateTime(intDiv(ts, 1000)) for ts_time`);
    }
  }
  for (const [name, expression] of Object.entries(rollup.groupBy)) {
    if ((stored.has(name) || aliases.has(name)) && expression.trim() !== name) {
      throw new ConfigError(`${field} groupBy.${name}`, `"${name}" is a column of the source table but stands for "${expression}" here`, 'give the group-by column another name');
    }
  }
  for (const name of Object.keys(rollup.measures)) {
    if (stored.has(`${name}_state`) || aliases.has(`${name}_state`)) throw new ConfigError(`${field} measures.${name}`, `the source table has a column ${name}_state, the name of this measure's state`, 'rename the measure');
  }
}

/** CREATE ... IF NOT EXISTS keeps an older definition: refuse one whose columns differ. */
async function checkExistingView(client: ClickHouseClient, plan: RollupPlan): Promise<void> {
  const found = (await rows<{ name: string }>(client, `SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ${quoteString(plan.name)}`)).map((c) => c.name);
  // As sets: 18.16's system.columns has no position to order by.
  if ([...found].sort().join(',') !== [...plan.columns].sort().join(',')) {
    throw new ConfigError(
      `rollup ${plan.name}`,
      `the existing view has columns (${found.join(', ')}) but the topology defines (${plan.columns.join(', ')})`,
      `drop the old rollup (DROP TABLE ${plan.name}; DROP TABLE ${plan.storage}) and restart: it is rebuilt from the rows of its source table`,
    );
  }
}

/** Identifiers outside string literals (function names included; those never match a column). */
function identifiers(expression: string): string[] {
  return expression.replace(/'(?:[^'\\]|\\.|'')*'/g, ' ').match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
}

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>();
}
