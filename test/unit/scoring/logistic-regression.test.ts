import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/errors.ts';
import { rocAuc } from '../../../src/scoring/classification-metrics.ts';
import { evaluate, predictProbability, trainLogisticRegression, type LogisticRegressionModel } from '../../../src/scoring/logistic-regression.ts';
import { seededRandom, syntheticClassification } from '../../../src/scoring/synthetic-data.ts';

const TRUE_WEIGHTS = [3, -2, 0, 1.5, 0, -2.5, 1, 0];

function bruteForceAuc(scores: number[], labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i]! > scores[j]!) wins += 1;
      else if (scores[i] === scores[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

test('training recovers a known pattern: holdout AUC > 0.95 and the true weight signs', () => {
  const options = { weights: TRUE_WEIGHTS, bias: -1, offset: [50, 0, 3, -10, 0, 7, 1000, 0], spread: [10, 1, 2, 5, 1, 0.5, 300, 1] };
  const train = syntheticClassification({ ...options, rows: 20_000, seed: 7 });
  const holdout = syntheticClassification({ ...options, rows: 5_000, seed: 8 });
  const model = trainLogisticRegression(train.x, train.y, { featureNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] });
  const result = evaluate(model, holdout.x, holdout.y);
  assert.ok(result.auc > 0.95, `holdout AUC ${result.auc}`);
  assert.equal(result.rows, 5_000);
  assert.equal(result.positives, holdout.y.filter((label) => label === 1).length);
  assert.ok(result.accuracy > 0.85, `accuracy ${result.accuracy}`);
  assert.ok(result.logLoss < 0.35, `log loss ${result.logLoss}`);
  // Standardised weights estimate the generating ones (the data was generated on the standard scale).
  for (let j = 0; j < TRUE_WEIGHTS.length; j++) {
    assert.ok(Math.abs(model.weights[j]! - TRUE_WEIGHTS[j]!) < 0.25, `weight ${j}: ${model.weights[j]} vs ${TRUE_WEIGHTS[j]}`);
  }
  assert.ok(Math.abs(model.bias - -1) < 0.15, `bias ${model.bias}`);
  assert.deepEqual(model.featureNames, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
});

test('perfectly separable data converges to finite weights thanks to the L2 penalty', () => {
  const x = Array.from({ length: 400 }, (_, i) => [i < 200 ? -1 - (i % 7) : 1 + (i % 5), i % 3]);
  const y = x.map((row) => (row[0]! > 0 ? 1 : 0));
  const model = trainLogisticRegression(x, y, { l2: 1e-3 });
  assert.ok(model.weights.every(Number.isFinite) && Number.isFinite(model.bias));
  const result = evaluate(model, x, y);
  assert.equal(result.auc, 1);
  assert.equal(result.accuracy, 1);
  assert.deepEqual(model.featureNames, ['f0', 'f1']);
});

test('evaluate() AUC equals a brute-force pairwise AUC exactly, ties included', () => {
  const random = seededRandom(3);
  // Coarse feature values make tied scores common.
  const x = Array.from({ length: 60 }, () => [Math.floor(random() * 4), Math.floor(random() * 3)]);
  const y = x.map((row) => (random() < 0.2 + 0.15 * row[0]! ? 1 : 0));
  const model: LogisticRegressionModel = { weights: [0.9, -0.3], bias: 0.1, mean: [1.5, 1], scale: [1, 1], featureNames: ['a', 'b'] };
  const scores = x.map((row) => predictProbability(model, row));
  assert.ok(new Set(scores).size < scores.length, 'the set contains ties');
  assert.equal(evaluate(model, x, y).auc, bruteForceAuc(scores, y));
});

test('rocAuc handles hand-computed cases', () => {
  assert.equal(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  assert.equal(rocAuc([0.2, 0.2, 0.9], [0, 1, 1]), 0.75);
  assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [1, 1])));
});

test('constant features get scale 1 and typed-array rows are accepted', () => {
  const rows = Array.from({ length: 300 }, (_, i) => Float64Array.of(i % 10, 5));
  const y = rows.map((row) => (row[0]! >= 5 ? 1 : 0));
  const model = trainLogisticRegression(rows, y);
  assert.deepEqual(model.mean, [4.5, 5]);
  assert.equal(model.scale[1], 1);
  assert.equal(model.weights[1], 0);
});

test('trains 200k rows x 8 features in a few seconds', () => {
  const data = syntheticClassification({ rows: 200_000, weights: TRUE_WEIGHTS, bias: -2, seed: 11 });
  const started = performance.now();
  const model = trainLogisticRegression(data.x, data.y);
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 5, `took ${seconds.toFixed(2)} s`);
  assert.ok(evaluate(model, data.x.slice(0, 20_000), data.y.slice(0, 20_000)).auc > 0.95);
});

test('invalid training data is rejected with a ConfigError', () => {
  assert.throws(() => trainLogisticRegression([], []), ConfigError);
  assert.throws(() => trainLogisticRegression([[1], [2]], [0]), ConfigError);
  assert.throws(() => trainLogisticRegression([[1], [2, 3]], [0, 1]), ConfigError);
  assert.throws(() => trainLogisticRegression([[1], [Number.NaN]], [0, 1]), ConfigError);
  assert.throws(() => trainLogisticRegression([[1], [2]], [0, 2]), ConfigError);
  assert.throws(() => trainLogisticRegression([[1], [2]], [0, 1], { featureNames: ['a', 'b'] }), ConfigError);
});
