/**
 * Trains the card-fraud model on generator data and writes models/fraud-lr.onnx (+ .json with
 * its metrics and lineage). Features come from the topology's own feature definition run over
 * the events (runOnArray), so training and serving share one definition.
 *
 *   npm run train            # default: 3 h of event time at 40 events/s, seed 11
 *   npm run train -- --hours 6 --rate 60 --seed 3 --out models/fraud-lr.onnx
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Command } from 'commander';
import { defineTopology } from '../src/topology/define-topology.ts';
import { runOnArray } from '../src/topology/run-on-array.ts';
import { generatorSource } from '../src/sources/generator/generator-source.ts';
import { CardPaymentModel, type Payment } from '../src/sources/generator/card-payments.ts';
import { trainLogisticRegression, evaluate } from '../src/scoring/logistic-regression.ts';
import { scoresOfModelFile } from '../src/training/model-file-scores.ts';
import { computeBaseline } from '../src/registry/drift-baseline.ts';
import { logisticRegressionToOnnx } from '../src/scoring/logistic-regression-onnx.ts';
import { cardFeatures, FRAUD_FEATURE_NAMES, fraudFeatureVector, type CardFeatures } from '../topologies/card-fraud-features.ts';
import { DEFAULT_MODEL_PATH } from '../topologies/card-fraud.ts';

const options = new Command()
  .option('--hours <n>', 'hours of event time to generate', '3')
  .option('--rate <n>', 'events per second of event time', '40')
  .option('--seed <n>', 'generator seed', '11')
  .option('--out <file>', 'ONNX file to write', DEFAULT_MODEL_PATH)
  .parse()
  .opts<{ hours: string; rate: string; seed: string; out: string }>();

const hours = Number(options.hours);
const rate = Number(options.rate);
const seed = Number(options.seed);
const start = Date.UTC(2026, 0, 1);
const generator = new CardPaymentModel({ seed });
const payments: Payment[] = [];
/** Event times of fraudulent payments per card: the labels. */
const fraudTimes = new Map<string, number[]>();
const total = Math.round(hours * 3600 * rate);
for (let i = 0; i < total; i++) {
  const { payment, fraud } = generator.next(start + (i * 1000) / rate);
  payments.push(payment);
  if (fraud) {
    const times = fraudTimes.get(payment.cardId) ?? [];
    times.push(payment.ts);
    fraudTimes.set(payment.cardId, times);
  }
}

const featureOnly = defineTopology({
  name: 'card-fraud-training',
  source: generatorSource<Payment>({ events: () => ({ next: () => payments[0]! }), eventTime: (p) => p.ts, eventsPerSecond: rate, outOfOrderness: '5s' }),
  pipeline: (events) => ({ features: cardFeatures(events) }),
  sinks: {},
});
const { outputs } = await runOnArray(featureOnly, payments, { batchSize: 2_000 });
const windows = outputs.features as CardFeatures[];

/** A window is fraudulent when the card paid fraudulently within its last minute. */
const label = (f: CardFeatures) => ((fraudTimes.get(f.cardId) ?? []).some((t) => t >= f.windowEnd - 60_000 && t < f.windowEnd) ? 1 : 0);
const splitAt = start + hours * 3600_000 * 0.75;
const train = windows.filter((w) => w.windowEnd <= splitAt);
const holdout = windows.filter((w) => w.windowEnd > splitAt);
const xTrain = train.map(fraudFeatureVector);
const yTrain = train.map(label);
const model = trainLogisticRegression(xTrain, yTrain, { featureNames: FRAUD_FEATURE_NAMES, l2: 1e-3 });
const trainMetrics = evaluate(model, xTrain, yTrain);
const holdoutMetrics = evaluate(model, holdout.map(fraudFeatureVector), holdout.map(label));

const onnx = logisticRegressionToOnnx(model, { docString: `card-fraud logistic regression; generator seed ${seed}, ${hours} h at ${rate}/s` });
mkdirSync(path.dirname(options.out), { recursive: true });
writeFileSync(options.out, onnx);
const sha256 = createHash('sha256').update(onnx).digest('hex');
// The drift baseline (README, "Drift"): deciles of every input, and of the score as the written
// file computes it, over all windows.
const allVectors = windows.map(fraudFeatureVector);
const baseline = computeBaseline(FRAUD_FEATURE_NAMES, allVectors, await scoresOfModelFile(options.out, allVectors));
const card = {
  model: path.basename(options.out, '.onnx'),
  version: sha256.slice(0, 12),
  sha256,
  featureNames: FRAUD_FEATURE_NAMES,
  training: { generatorSeed: seed, hours, eventsPerSecond: rate, events: payments.length, windows: windows.length, from: new Date(start).toISOString(), holdoutFrom: new Date(splitAt).toISOString() },
  metrics: { train: trainMetrics, holdout: holdoutMetrics },
  coefficients: { weights: model.weights, bias: model.bias, mean: model.mean, scale: model.scale },
  baseline,
};
writeFileSync(options.out.replace(/\.onnx$/, '.json'), `${JSON.stringify(card, null, 2)}\n`);
console.log(`trained on ${train.length} windows (${trainMetrics.positives} fraudulent), holdout ${holdout.length} (${holdoutMetrics.positives})`);
console.log(`holdout AUC ${holdoutMetrics.auc.toFixed(4)}, log loss ${holdoutMetrics.logLoss.toFixed(4)}, accuracy ${holdoutMetrics.accuracy.toFixed(4)}`);
console.log(`wrote ${options.out} (version ${card.version})`);
