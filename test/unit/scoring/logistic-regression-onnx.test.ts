import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ConfigError } from '../../../src/core/errors.ts';
import { predictProbability, type LogisticRegressionModel } from '../../../src/scoring/logistic-regression.ts';
import { logisticRegressionToOnnx } from '../../../src/scoring/logistic-regression-onnx.ts';
import { featureNamesFromMetadata, readOnnxMetadata } from '../../../src/scoring/onnx-metadata.ts';
import { OnnxModel } from '../../../src/scoring/onnx-model.ts';
import { gaussian, seededRandom } from '../../../src/scoring/synthetic-data.ts';

const model: LogisticRegressionModel = {
  weights: [0.8, -1.2, 0.05, 2.1, -0.4, 0.9, -2.5, 0.3],
  bias: -0.7,
  mean: [100, 3.5, -2, 0, 12, 0.5, 40, -7],
  scale: [25, 1.5, 0.8, 1, 4, 0.1, 9, 3],
  featureNames: ['amount', 'count', 'delta', 'flag', 'hour', 'ratio', 'age', 'gap'],
};

async function withModelFile<R>(bytes: Uint8Array, use: (path: string) => Promise<R>): Promise<R> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-onnx-'));
  try {
    const path = join(dir, 'fraud.onnx');
    await writeFile(path, bytes);
    return await use(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('exported ONNX matches predictProbability within 1e-6 on 1,000 random rows', async () => {
  await withModelFile(logisticRegressionToOnnx(model), async (path) => {
    const onnx = await OnnxModel.load(path);
    try {
      const rows = 1000;
      const width = model.featureNames.length;
      const random = seededRandom(42);
      const features = new Float32Array(rows * width);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < width; j++) features[i * width + j] = model.mean[j]! + model.scale[j]! * 1.5 * gaussian(random);
      }
      const probabilities = await onnx.score(features, rows);
      assert.equal(probabilities.length, rows);
      let worst = 0;
      let spread = { min: 1, max: 0 };
      for (let i = 0; i < rows; i++) {
        // The JS side reads the same float32 values the model received.
        const expected = predictProbability(model, features.subarray(i * width, (i + 1) * width));
        worst = Math.max(worst, Math.abs(probabilities[i]! - expected));
        spread = { min: Math.min(spread.min, expected), max: Math.max(spread.max, expected) };
      }
      assert.ok(worst < 1e-6, `largest difference ${worst}`);
      // The rows exercise the whole sigmoid, not one flat end of it.
      assert.ok(spread.min < 0.01 && spread.max > 0.99, `probabilities span ${spread.min}..${spread.max}`);
    } finally {
      await onnx.close();
    }
  });
});

test('the loaded model exposes names, feature metadata and a content version', async () => {
  const bytes = logisticRegressionToOnnx(model, { producerVersion: '9.9.9', docString: 'card fraud' });
  assert.deepEqual(featureNamesFromMetadata(readOnnxMetadata(bytes)), model.featureNames);
  assert.equal(readOnnxMetadata(bytes).get('model_type'), 'logistic_regression');
  await withModelFile(bytes, async (path) => {
    const onnx = await OnnxModel.load(path);
    try {
      assert.equal(onnx.name, 'fraud');
      assert.equal(onnx.version, createHash('sha256').update(bytes).digest('hex').slice(0, 12));
      assert.deepEqual(onnx.featureNames, model.featureNames);
      assert.equal(onnx.featureCount, 8);
      assert.equal(onnx.inputName, 'features');
      assert.equal(onnx.outputName, 'probability');
    } finally {
      await onnx.close();
    }
    const named = await OnnxModel.load(path, { name: 'fraud-v2', version: 'release-7' });
    assert.equal(named.name, 'fraud-v2');
    assert.equal(named.version, 'release-7');
    await named.close();
  });
});

test('score reads only rows * width values of a larger buffer and returns an empty result for zero rows', async () => {
  await withModelFile(logisticRegressionToOnnx(model), async (path) => {
    const onnx = await OnnxModel.load(path);
    try {
      const buffer = new Float32Array(8 * 10).fill(Number.NaN);
      buffer.set(model.mean, 0);
      buffer.set(model.mean, 8);
      const probabilities = await onnx.score(buffer, 2);
      const atMean = 1 / (1 + Math.exp(0.7));
      assert.equal(probabilities.length, 2);
      assert.ok(Math.abs(probabilities[0]! - atMean) < 1e-7 && Math.abs(probabilities[1]! - atMean) < 1e-7);
      assert.equal((await onnx.score(new Float32Array(0), 0)).length, 0);
      await assert.rejects(onnx.score(new Float32Array(7), 1), { code: 'SCORING_INPUT' });
    } finally {
      await onnx.close();
    }
  });
});

test('a missing model file is a ConfigError naming the path and npm run train', async () => {
  const path = join(tmpdir(), 'tributary-no-such-dir', 'missing.onnx');
  await assert.rejects(OnnxModel.load(path), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.ok(error.message.includes(path), error.message);
    assert.ok(error.message.includes('npm run train'), error.message);
    assert.equal(error.retriable, false);
    return true;
  });
});

test('a file that is not ONNX is a ConfigError', async () => {
  await withModelFile(new TextEncoder().encode('not a model at all'), async (path) => {
    await assert.rejects(OnnxModel.load(path), (error: unknown) => error instanceof ConfigError && error.message.includes(path));
  });
});

test('export rejects inconsistent model shapes', () => {
  assert.throws(() => logisticRegressionToOnnx({ ...model, weights: model.weights.slice(1) }), ConfigError);
  assert.throws(() => logisticRegressionToOnnx({ ...model, scale: model.scale.map((s, j) => (j === 2 ? 0 : s)) }), ConfigError);
  assert.throws(() => logisticRegressionToOnnx({ ...model, bias: Number.NaN }), ConfigError);
});
