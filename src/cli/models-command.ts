import { Command, Option } from 'commander';
import { TributaryError } from '../core/errors.ts';
import { renderJsonRows, renderTable, type JsonResult } from '../analytics/result-output.ts';
import { compareOptionsFor, compareSql, resolvedCompareOptions } from '../registry/compare-report.ts';
import { promote, rollback, servingPlan, startCanary, startShadow } from '../registry/lifecycle.ts';
import type { ModelRegistry, ModelVersion } from '../registry/model-registry.ts';
import { withLifecycle } from '../training/lifecycle-context.ts';
import { withCliAudit } from './cli-audit.ts';
import { parseOptionalTime } from './time-option.ts';

type Format = 'table' | 'json';

/**
 * `tributary models list|promote|canary|shadow|rollback|compare <topology> ...`: the model
 * lifecycle of a topology (its `lifecycle` names the model and the tables). Versions may be
 * given by a unique prefix of at least 4 characters.
 */
export function registerModelsCommand(program: Command): Command {
  const models = program.command('models').description("a topology's model versions: list them, run a shadow or canary, promote, roll back, compare live and candidate");
  const format = () => new Option('--format <format>', 'output format').choices(['table', 'json']).default('table');
  models
    .command('list')
    .argument('<topology>', 'topology module with a lifecycle')
    .description('every version with its status, lineage and holdout metrics, newest first')
    .option('--history', 'every status change instead, oldest first')
    .addOption(format())
    .action((topology: string, options: { history?: boolean; format: Format }) => withLifecycle(topology, async ({ registry, spec }) => {
      const versions = options.history ? await registry.history(spec.model) : await registry.list(spec.model);
      write(options.format === 'json' ? renderJsonRows({ meta: [], data: versions as unknown as Array<Record<string, unknown>> }) : renderTable(versionTable(versions)));
    }));
  models
    .command('promote')
    .argument('<topology>', 'topology module with a lifecycle')
    .argument('<version>', 'the version to make live')
    .description('make a version live; the live one is retired (a canary or shadow of it ends)')
    .action((topology: string, version: string) => withLifecycle(topology, async ({ registry, spec, client }) => withCliAudit(client, async (audit) => {
      const { live, retired } = await promote(registry, spec.model, await resolveVersion(registry, spec.model, version), audit);
      write(`${id(live)} is live${retired ? `; ${id(retired)} retired` : ''}\n`);
    })));
  models
    .command('canary')
    .argument('<topology>', 'topology module with a lifecycle')
    .argument('<version>', 'the candidate to serve to some keys')
    .description('serve a version to a percent of keys (a stable hash of the key) next to the live one')
    .requiredOption('--percent <n>', 'percent of keys, between 0 and 100')
    .action((topology: string, version: string, options: { percent: string }) => withLifecycle(topology, async ({ registry, spec, client }) => withCliAudit(client, async (audit) => {
      const canary = await startCanary(registry, spec.model, await resolveVersion(registry, spec.model, version), Number(options.percent), audit);
      write(`${id(canary)} is canary for ${canary.canaryPercent}% of keys next to live ${live(await registry.list(spec.model))}\n`);
    })));
  models
    .command('shadow')
    .argument('<topology>', 'topology module with a lifecycle')
    .argument('<version>', 'the candidate to score next to the live one')
    .description('score every record with a version too and record its output; the live version is still served')
    .action((topology: string, version: string) => withLifecycle(topology, async ({ registry, spec, client }) => withCliAudit(client, async (audit) => {
      const shadow = await startShadow(registry, spec.model, await resolveVersion(registry, spec.model, version), audit);
      write(`${id(shadow)} runs in shadow next to live ${live(await registry.list(spec.model))}\n`);
    })));
  models
    .command('rollback')
    .argument('<topology>', 'topology module with a lifecycle')
    .description('stop the running canary or shadow; with none, bring back the version live before the current one')
    .action((topology: string) => withLifecycle(topology, async ({ registry, spec, client }) => withCliAudit(client, async (audit) => {
      const result = await rollback(registry, spec.model, audit);
      write(result.action === 'stopped'
        ? `rolled back: ${result.stopped.note.replace(/^rollback of /, '')} stopped, ${id(result.stopped)} is a candidate again${result.live ? `; ${id(result.live)} stays live` : ''}\n`
        : `rolled back: ${id(result.retired)} retired, ${id(result.live)} live again\n`);
    })));
  models
    .command('compare')
    .argument('<topology>', 'topology module with a lifecycle')
    .description('live vs candidate on the same predictions (rows scored by both while a canary or shadow ran), with AUC and log loss against the labels')
    .option('--from <time>', 'first prediction time (epoch ms or ISO date)')
    .option('--to <time>', 'end of the range, exclusive (epoch ms or ISO date)')
    .option('--sql', 'print the SQL instead of running it')
    .addOption(format())
    .action((topology: string, options: { from?: string; to?: string; sql?: boolean; format: Format }) => withLifecycle(topology, async ({ client, spec }) => {
      const compare = compareOptionsFor(spec, { from: parseOptionalTime(options.from, '--from'), to: parseOptionalTime(options.to, '--to') });
      const sql = compareSql(await resolvedCompareOptions(client, compare));
      if (options.sql) return write(`${sql}\n`);
      const result = (await (await client.query({ query: sql, format: 'JSON' })).json()) as unknown as JsonResult;
      if (result.data.length === 0) process.stderr.write(`no rows of ${spec.predictionsTable} were scored by two versions of ${spec.model} in this range: start a shadow or canary first\n`);
      write(options.format === 'json' ? renderJsonRows(result) : renderTable(result));
    }));
  return models;
}

/** The exact version, or the one version starting with `text` (at least 4 characters). */
export async function resolveVersion(registry: ModelRegistry, model: string, text: string): Promise<string> {
  const versions = await registry.list(model);
  if (versions.some((v) => v.version === text)) return text;
  const matches = text.length >= 4 ? versions.filter((v) => v.version.startsWith(text)) : [];
  if (matches.length === 1) return matches[0]!.version;
  const known = versions.slice(0, 10).map((v) => `${v.version} (${v.status})`).join(', ') || 'none yet: train one with `tributary train <topology>`';
  throw new TributaryError(`model ${model} has ${matches.length > 1 ? `several versions starting with "${text}"` : `no version "${text}"`}. Fix: give one of: ${known}`, { code: 'MODEL_REGISTRY' });
}

function versionTable(versions: ModelVersion[]): JsonResult {
  const time = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : '');
  const metric = (value: number) => (Number.isFinite(value) ? Number(value.toFixed(6)) : null);
  return {
    meta: [
      { name: 'version', type: 'String' }, { name: 'status', type: 'String' }, { name: 'canary_percent', type: 'Float64' },
      { name: 'features', type: 'String' }, { name: 'auc', type: 'Float64' }, { name: 'log_loss', type: 'Float64' },
      { name: 'holdout_rows', type: 'UInt64' }, { name: 'positives', type: 'UInt64' }, { name: 'trained_from', type: 'String' },
      { name: 'trained_to', type: 'String' }, { name: 'created_at', type: 'String' }, { name: 'updated_at', type: 'String' }, { name: 'note', type: 'String' },
    ],
    data: versions.map((v) => ({
      version: v.version,
      status: v.status,
      canary_percent: v.status === 'canary' ? v.canaryPercent : null,
      features: `${v.featureSet}@${v.featureVersion}`,
      auc: metric(v.metrics.auc),
      log_loss: metric(v.metrics.logLoss),
      holdout_rows: v.metrics.rows,
      positives: v.metrics.positives,
      trained_from: time(v.trainedFrom),
      trained_to: time(v.trainedTo),
      created_at: time(v.createdAt),
      updated_at: time(v.updatedAt),
      note: v.note,
    })),
  };
}

function id(version: ModelVersion): string {
  return `${version.model}@${version.version}`;
}

function live(versions: ModelVersion[]): string {
  const current = servingPlan(versions).live;
  return current ? id(current) : '(none)';
}

function write(text: string): void {
  process.stdout.write(text);
}
