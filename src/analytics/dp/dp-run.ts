import type { AnalystBackend } from '../analyst-backend.ts';
import type { AnalystTarget } from '../analyst-query.ts';
import { openChdbBackend } from '../chdb-backend.ts';
import { openServerBackend } from '../server-backend.ts';
import type { QueryLimits } from '../sql-config.ts';
import { queryFailure, SqlQueryError } from '../sql-errors.ts';
import type { SqlRole } from '../sql-jwt.ts';
import { fromMicro } from './budget-ledger.ts';
import { parseDpQuery } from './dp-query.ts';
import { dpPlan, releaseDp, type DpPlan, type DpRow, type TrueGroup } from './dp-release.ts';
import type { DpSettings } from './dp-settings.ts';
import { dpStatement } from './dp-sql.ts';

export interface DpQueryOptions {
  principal: string;
  role: SqlRole;
  limits: QueryLimits;
  analystTables: readonly string[];
  settings: DpSettings;
  signal?: AbortSignal;
}

/** A DP answer in ClickHouse's JSON shape (meta, data) plus how it was noised and the budget left. */
export interface DpAnswer {
  meta: Array<{ name: string; type: string }>;
  data: DpRow[];
  dp: { epsilon: number; rowsPerSubject: number; subjectColumn: string; noise: DpPlan };
  budget: { spent: number; limit: number; remaining: number };
  /** The statement that ran (for the audit trail). */
  statement: string;
}

/**
 * One DP query: check the structured form, write the statement, spend ε in the ledger (refused
 * with BUDGET_EXHAUSTED when it would pass the principal's budget), run it read-only within the
 * limits, add noise. ε spent is not given back when the query then fails: a failure can depend
 * on the data too.
 */
export async function runDpQuery(target: AnalystTarget, body: string, options: DpQueryOptions): Promise<DpAnswer> {
  const { settings } = options;
  const query = parseDpQuery(body, settings);
  if (options.role !== 'admin' && !options.analystTables.includes(query.table)) {
    throw new SqlQueryError('NOT_ALLOWED', `DP query: table ${query.table} is not one analysts may read`);
  }
  const plan = dpPlan(query, settings.delta);
  const backend: AnalystBackend =
    target.url !== undefined ? await openServerBackend(target.url, target.analyst, options.limits, target.security?.tls) : await openChdbBackend(target.dataDir, target.database ?? 'default', options.limits);
  try {
    const statement = dpStatement(query, backend.database, settings.subjectColumn);
    const spend = await settings.ledger.spend(options.principal, query.microEpsilon, settings.budgetMicro).catch((error: unknown) => {
      throw new SqlQueryError('UNAVAILABLE', `the DP budget ledger cannot be used: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    });
    if (!spend.accepted) {
      throw new SqlQueryError('BUDGET_EXHAUSTED', `the privacy budget of ${options.principal} is spent: ε ${fromMicro(spend.spent)} of ${fromMicro(settings.budgetMicro)} used, this query asks ${query.epsilon}`);
    }
    let text: string;
    try {
      text = await backend.run(statement, 'JSON', options.signal);
    } catch (error) {
      throw error instanceof SqlQueryError ? error : queryFailure(error);
    }
    const truth = trueGroups(text);
    const rows = releaseDp(query, plan, truth);
    const columns: Array<{ name: string; type: string }> = [{ name: 'key', type: 'String' }];
    for (const name of ['count', 'sum', 'avg'] as const) if (rows.some((row) => row[name] !== undefined)) columns.push({ name, type: name === 'count' ? 'Int64' : 'Float64' });
    return {
      meta: columns,
      data: rows,
      dp: { epsilon: query.epsilon, rowsPerSubject: query.rowsPerSubject, subjectColumn: settings.subjectColumn, noise: plan },
      budget: { spent: fromMicro(spend.spent), limit: fromMicro(settings.budgetMicro), remaining: fromMicro(settings.budgetMicro - spend.spent) },
      statement,
    };
  } finally {
    await backend.close();
  }
}

/** The generated statement's rows (64-bit integers arrive quoted in JSON). */
function trueGroups(text: string): TrueGroup[] {
  const parsed = JSON.parse(text) as { data: Array<{ dp_key: string; dp_n: string | number; dp_total: string | number }> };
  return parsed.data.map((row) => ({ key: String(row.dp_key), n: Number(row.dp_n), total: Number(row.dp_total) }));
}
