import { Command, Option } from 'commander';
import { ConfigError } from '../core/errors.ts';
import { trainFromClickHouse, type TrainingSummary } from '../training/train-from-clickhouse.ts';
import { withLifecycle } from '../training/lifecycle-context.ts';
import { parseOptionalTime } from './time-option.ts';
import { auditedRun } from '../audit/audited-run.ts';
import { withCliAudit } from './cli-audit.ts';

export interface TrainCommandOptions {
  from?: string;
  to?: string;
  l2?: string;
  format: 'text' | 'json';
}

/** `tributary train <topology> [--from] [--to] [--l2] [--format text|json]`. */
export function registerTrainCommand(program: Command): Command {
  return program
    .command('train')
    .argument('<topology>', "topology module whose lifecycle names the model, feature set and tables")
    .description("train the topology's model on its features and labels in ClickHouse, write the ONNX file and register it as a candidate with its holdout metrics")
    .option('--from <time>', 'first feature row time (epoch ms or ISO date); default: the oldest row')
    .option('--to <time>', 'end of the range, exclusive (epoch ms or ISO date); default: after the newest row')
    .option('--l2 <penalty>', 'L2 penalty of the logistic regression', '0.001')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (topology: string, options: TrainCommandOptions) => {
      await trainCommand(topology, options);
    });
}

export async function trainCommand(topologyFile: string, options: TrainCommandOptions): Promise<TrainingSummary> {
  const l2 = options.l2 === undefined ? undefined : Number(options.l2);
  if (l2 !== undefined && !(l2 >= 0)) throw new ConfigError('--l2', `"${options.l2}" is not a penalty`, 'give a number >= 0, e.g. --l2 0.001');
  const range = { from: parseOptionalTime(options.from, '--from'), to: parseOptionalTime(options.to, '--to') };
  const summary = await withLifecycle(topologyFile, ({ client, spec }) =>
    withCliAudit(client, (audit) =>
      auditedRun(audit, { kind: 'train', target: spec.model, details: { from: options.from, to: options.to, l2 }, summary: trainingCounts }, () => trainFromClickHouse(client, spec, { ...range, l2 })),
    ),
  );
  process.stdout.write(options.format === 'json' ? `${JSON.stringify(summary, null, 2)}\n` : describe(summary, topologyFile));
  return summary;
}

/** What the train.run audit entry keeps of a training. */
function trainingCounts(s: TrainingSummary): Record<string, unknown> {
  return { version: `${s.model}@${s.version}`, status: s.registered.status, alreadyRegistered: s.alreadyRegistered, trainRows: s.train.rows, holdoutRows: s.holdout.rows, holdoutAuc: s.holdout.auc, sha256: s.sha256 };
}

function describe(s: TrainingSummary, topologyFile: string): string {
  const id = `${s.model}@${s.version}`;
  const status = s.alreadyRegistered ? `already registered (status ${s.registered.status}): the same data gives the same file` : 'registered as candidate';
  return [
    `trained ${id} on ${s.featureSet}@${s.featureVersion}, rows ${new Date(s.trainedFrom).toISOString()} to ${new Date(s.trainedTo).toISOString()}`,
    `  train:   ${s.train.rows} rows, ${s.train.positives} positive; AUC ${s.train.auc.toFixed(4)}, log loss ${s.train.logLoss.toFixed(4)}`,
    `  holdout: ${s.holdout.rows} rows after ${new Date(s.splitAt).toISOString()}, ${s.holdout.positives} positive; AUC ${s.holdout.auc.toFixed(4)}, log loss ${s.holdout.logLoss.toFixed(4)}`,
    `  file:    ${s.path} (sha256 ${s.sha256})`,
    `  ${status}`,
    `next: tributary models shadow|canary|promote ${topologyFile} ${s.version}`,
    '',
  ].join('\n');
}
