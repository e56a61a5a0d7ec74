import { Option, type Command } from 'commander';
import type { ClickHouseClient } from '@clickhouse/client';
import { renderTable, type JsonResult } from '../analytics/result-output.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';
import { computeOutcomes, outcomeQueryFor, OutcomesTable, type ModelOutcome } from '../registry/model-outcomes.ts';
import { outcomesSql } from '../registry/outcomes-sql.ts';
import { withLifecycle } from '../training/lifecycle-context.ts';
import { parseWholeOption } from './number-option.ts';
import { parseOptionalTime } from './time-option.ts';

interface OutcomesCommandOptions {
  from?: string;
  to?: string;
  k: string;
  write: boolean;
  sql?: boolean;
  format: 'table' | 'json';
}

const HELP = `
Joins the predictions each model version served (online rows, source 'model') with the labels
that arrived since (a row is positive when its entity has a label within the lifecycle's label
window before it) and computes, per version and UTC day of the predictions: rows, positives,
AUC (ties one half), log loss, ECE (expected calibration error, 10 equal-width bins of the
probability) and precision at the top k scores (ties in proportion). The figures are written to
the lifecycle's outcomes table (model_outcomes; the latest computation per version and day is
kept), which the dashboard shows. Labels such as chargebacks come in for weeks: run it daily over
the last weeks (topologies/card-fraud.jobs.json does), and read recent days as provisional.`;

/** Adds `tributary models outcomes <topology>` to the models command. */
export function registerModelsOutcomesCommand(models: Command): void {
  models
    .command('outcomes')
    .argument('<topology>', 'topology module with a lifecycle')
    .description('AUC, log loss, calibration (ECE) and precision at k per model version and day, from the predictions joined with the labels that arrived; written to the outcomes table')
    .option('--from <time>', 'first prediction time (epoch ms or ISO date)')
    .option('--to <time>', 'end of the range, exclusive (epoch ms or ISO date)')
    .option('--k <rows>', 'precision at the k highest scores per version and day', '100')
    .option('--no-write', 'print only; do not write the outcomes table')
    .option('--sql', 'print the SQL instead of running it')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addHelpText('after', HELP)
    .action((topology: string, options: OutcomesCommandOptions) => withLifecycle(topology, async ({ client, spec }) => {
      const range = { from: parseOptionalTime(options.from, '--from'), to: parseOptionalTime(options.to, '--to'), k: parseWholeOption(options.k, '--k', 'a whole number of rows', 'use e.g. --k 100') };
      if (options.sql) return void process.stdout.write(`${outcomesSql(await outcomeQueryFor(client, spec, range))}\n`);
      const outcomes = await computeOutcomes(client, spec, range);
      if (options.write) await new OutcomesTable(client, spec.outcomesTable).write(outcomes);
      if (outcomes.length === 0) process.stderr.write(`no predictions of ${spec.model} in ${spec.predictionsTable} in this range\n`);
      process.stdout.write(options.format === 'json' ? `${JSON.stringify(outcomes)}\n` : renderTable(outcomeTable(outcomes)));
    }));
}

/** The outcomes of the versions in `versions` (all when undefined) over a range, for `models compare`. */
export async function outcomesForCompare(client: ClickHouseClient, spec: LifecycleSpec, range: { from?: number; to?: number }, versions?: ReadonlySet<string>): Promise<ModelOutcome[]> {
  const outcomes = await computeOutcomes(client, spec, range);
  return versions === undefined ? outcomes : outcomes.filter((o) => versions.has(o.version));
}

/** Outcomes as an aligned table: one row per version and day. */
export function outcomeTable(outcomes: readonly ModelOutcome[]): JsonResult {
  const metric = (value: number | null) => (value === null || !Number.isFinite(value) ? null : Number(value.toFixed(6)));
  return {
    meta: [
      { name: 'version', type: 'String' }, { name: 'day', type: 'String' }, { name: 'rows', type: 'UInt64' }, { name: 'positives', type: 'UInt64' },
      { name: 'auc', type: 'Float64' }, { name: 'log_loss', type: 'Float64' }, { name: 'ece', type: 'Float64' }, { name: 'precision_at_k', type: 'Float64' }, { name: 'k', type: 'UInt64' },
    ],
    data: outcomes.map((o) => ({ version: `${o.model}@${o.version}`, day: o.day, rows: o.rows, positives: o.positives, auc: metric(o.auc), log_loss: metric(o.logLoss), ece: metric(o.ece), precision_at_k: metric(o.precisionAtK), k: o.k })),
  };
}
