import { writeFile } from 'node:fs/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { toMillis } from '../core/duration.ts';
import { ConfigError, TributaryError } from '../core/errors.ts';
import { clickhouseModelRegistry } from '../registry/clickhouse-model-registry.ts';
import { defaultModelDirectory, writeModelFile } from '../registry/model-files.ts';
import type { ModelMetrics, ModelRegistry, ModelVersion } from '../registry/model-registry.ts';
import { evaluate, trainLogisticRegression, type Evaluation } from '../scoring/logistic-regression.ts';
import { scoresOfModelFile } from './model-file-scores.ts';
import { BaselineStore } from '../registry/baseline-store.ts';
import { computeBaseline, type DriftBaseline } from '../registry/drift-baseline.ts';
import { logisticRegressionToOnnx } from '../scoring/logistic-regression-onnx.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';
import { readFeatureRows, readLabels, type FeatureRow, type TimeRange } from './training-data.ts';

export interface TrainOptions extends TimeRange {
  /** L2 penalty (default 1e-3, as scripts/train-fraud-model.ts). */
  l2?: number;
  /** Share of the time range, at its end, held out for the metrics (default 0.25). */
  holdoutFraction?: number;
  /** Model directory (default TRIBUTARY_MODEL_DIR or models/). */
  directory?: string;
  /** Default: the ClickHouse registry in spec.registryTable on the same client. */
  registry?: ModelRegistry;
  /** Default Date.now(). */
  createdAt?: number;
}

export interface TrainingSummary {
  model: string;
  version: string;
  sha256: string;
  /** Registered file name, and its absolute path. */
  file: string;
  path: string;
  featureSet: string;
  featureVersion: string;
  /** First and last row time used (train and holdout), epoch ms. */
  trainedFrom: number;
  trainedTo: number;
  /** Rows with time <= splitAt trained the model; later rows are the holdout. */
  splitAt: number;
  duplicates: number;
  labelEvents: number;
  train: Evaluation;
  holdout: Evaluation;
  /** The registry's record: status 'candidate' unless this very file was registered before. */
  registered: ModelVersion;
  alreadyRegistered: boolean;
}

/**
 * `tributary train`: feature rows of the current feature version from ClickHouse, labelled
 * point-in-time from the labels table, split by time (the last quarter of the range held out),
 * fitted in TypeScript, written as ONNX (with a .json sidecar) and registered as a candidate
 * with its holdout metrics and lineage.
 */
export async function trainFromClickHouse(client: ClickHouseClient, spec: LifecycleSpec, options: TrainOptions = {}): Promise<TrainingSummary> {
  const l2 = options.l2 ?? 1e-3;
  const holdoutFraction = options.holdoutFraction ?? 0.25;
  if (!(l2 >= 0)) throw new ConfigError('l2', `${l2} is not a penalty`, 'give a number >= 0, e.g. --l2 0.001');
  if (!(holdoutFraction > 0 && holdoutFraction < 1)) throw new ConfigError('holdoutFraction', `${holdoutFraction} is not a share`, 'give a number between 0 and 1, e.g. 0.25');
  if (options.from !== undefined && options.to !== undefined && !(options.from < options.to)) {
    throw new ConfigError('time range', `--from ${iso(options.from)} is not before --to ${iso(options.to)}`, 'give a range whose start comes first');
  }
  const featureSet = spec.featureSet;
  const { rows, duplicates } = await readFeatureRows(client, spec, options);
  const where = `${spec.featuresTable} (featureVersion '${featureSet.version}'${options.from !== undefined ? `, from ${iso(options.from)}` : ''}${options.to !== undefined ? `, to ${iso(options.to)}` : ''})`;
  if (rows.length === 0) throw new TributaryError(`no feature rows to train ${spec.model} on in ${where}. Fix: run the topology (or a backfill) so its features reach the table, or widen --from/--to`, { code: 'TRAINING' });
  const labels = await readLabels(client, spec.labels, { from: rows[0]!.time, to: rows.at(-1)!.time });
  const windowMs = toMillis(spec.labels.window, 'lifecycle.labels.window');
  const y = Uint8Array.from(rows, (row) => labels.label(row.entity, row.time, windowMs));

  const { trainedFrom, trainedTo, splitAt, cut } = timeSplit(rows, holdoutFraction);
  if (cut === rows.length) throw new TributaryError(`all ${rows.length} feature rows in ${where} have one time, so none is left for a holdout. Fix: train on a longer time range`, { code: 'TRAINING' });
  const x = rows.map((row) => row.vector);
  const xTrain = x.slice(0, cut);
  const yTrain = y.subarray(0, cut);
  const positives = yTrain.reduce((sum, label) => sum + label, 0);
  if (positives === 0 || positives === cut) {
    throw new TributaryError(`the ${cut} training rows in ${where} are all ${positives === 0 ? 'negative' : 'positive'} (labels from ${spec.labels.table}, ${labels.events} events). Fix: sink the labels topic into ${spec.labels.table} (e.g. topologies/chargebacks.ts) or train on a range with both outcomes`, { code: 'TRAINING' });
  }
  const fitted = trainLogisticRegression(xTrain, yTrain, { featureNames: featureSet.featureNames, l2 });
  const train = evaluate(fitted, xTrain, yTrain);
  const holdout = evaluate(fitted, x.slice(cut), y.subarray(cut));

  const onnx = logisticRegressionToOnnx(fitted, {
    // Only the training's inputs, no wall-clock time: the same data gives the same file and version.
    docString: `${spec.model}: logistic regression on ${featureSet.id} from ${spec.featuresTable}, rows ${iso(trainedFrom)} to ${iso(trainedTo)}, holdout after ${iso(splitAt)}, l2 ${l2}`,
  });
  const directory = options.directory ?? defaultModelDirectory();
  const written = await writeModelFile(onnx, spec.model, directory);
  const metrics: ModelMetrics = { auc: holdout.auc, logLoss: holdout.logLoss, rows: holdout.rows, positives: holdout.positives };
  // The drift baseline: every input's and the score's deciles over all rows (train and holdout),
  // the score as the written file computes it.
  const baseline = computeBaseline(featureSet.featureNames, x, await scoresOfModelFile(written.path, x));
  await writeFile(written.path.replace(/\.onnx$/, '.json'), `${JSON.stringify(sidecar(spec, written, { trainedFrom, trainedTo, splitAt, l2, train, holdout, fitted, baseline }), null, 2)}\n`);

  const registry = options.registry ?? clickhouseModelRegistry(client, { table: spec.registryTable });
  await registry.open();
  const before = await registry.get(spec.model, written.version);
  const registered = await registry.register({
    model: spec.model,
    version: written.version,
    fileSha256: written.sha256,
    file: written.file,
    featureSet: featureSet.name,
    featureVersion: featureSet.version,
    trainedFrom,
    trainedTo,
    metrics,
    createdAt: options.createdAt ?? Date.now(),
    status: 'candidate',
    note: `trained on ${rows.length} rows of ${spec.featuresTable}`,
  });
  await new BaselineStore(client, spec.baselinesTable).save(spec.model, written.version, baseline, 'training');
  return {
    model: spec.model,
    version: written.version,
    sha256: written.sha256,
    file: written.file,
    path: written.path,
    featureSet: featureSet.name,
    featureVersion: featureSet.version,
    trainedFrom,
    trainedTo,
    splitAt,
    duplicates,
    labelEvents: labels.events,
    train,
    holdout,
    registered,
    alreadyRegistered: before !== undefined,
  };
}

/**
 * The time-based holdout of scripts/train-fraud-model.ts: rows at or before
 * first + (last - first) * (1 - holdoutFraction) train, later rows are held out. `rows` are in
 * time order, so the split is one index, `cut`.
 */
export function timeSplit(rows: readonly Pick<FeatureRow, 'time'>[], holdoutFraction: number): { trainedFrom: number; trainedTo: number; splitAt: number; cut: number } {
  const trainedFrom = rows[0]!.time;
  const trainedTo = rows.at(-1)!.time;
  const splitAt = trainedFrom + (trainedTo - trainedFrom) * (1 - holdoutFraction);
  let cut = 0;
  while (cut < rows.length && rows[cut]!.time <= splitAt) cut++;
  return { trainedFrom, trainedTo, splitAt, cut };
}

/** The model card next to the file, in the shape scripts/train-fraud-model.ts writes. */
function sidecar(
  spec: LifecycleSpec,
  written: { version: string; sha256: string },
  facts: { trainedFrom: number; trainedTo: number; splitAt: number; l2: number; train: Evaluation; holdout: Evaluation; fitted: { weights: number[]; bias: number; mean: number[]; scale: number[] }; baseline: DriftBaseline },
): object {
  return {
    model: spec.model,
    version: written.version,
    sha256: written.sha256,
    featureSet: spec.featureSet.name,
    featureVersion: spec.featureSet.version,
    featureNames: spec.featureSet.featureNames,
    training: { table: spec.featuresTable, labels: spec.labels.table, from: iso(facts.trainedFrom), trainedFrom: facts.trainedFrom, trainedTo: facts.trainedTo, holdoutFrom: iso(facts.splitAt), l2: facts.l2 },
    metrics: { train: facts.train, holdout: facts.holdout },
    coefficients: { weights: facts.fitted.weights, bias: facts.fitted.bias, mean: facts.fitted.mean, scale: facts.fitted.scale },
    baseline: facts.baseline,
  };
}

function iso(time: number): string {
  return Number.isFinite(time) ? new Date(time).toISOString() : String(time);
}
