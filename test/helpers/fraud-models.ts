import WebSocket from 'ws';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { predictProbability, type LogisticRegressionModel } from '../../src/scoring/logistic-regression.ts';
import { logisticRegressionToOnnx } from '../../src/scoring/logistic-regression-onnx.ts';
import type { NewModelVersion } from '../../src/registry/model-registry.ts';
import { CARD_FEATURES, type CardFeatures } from '../../topologies/card-fraud-features.ts';
import { referenceFraudVector } from './fraud-reference.ts';
import { REPO_ROOT } from './services.ts';

/** The shipped model's coefficients (models/fraud-lr.json), for reference probabilities. */
export function shippedFraudModel(): LogisticRegressionModel {
  const card = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/fraud-lr.json'), 'utf8'));
  return { ...card.coefficients, featureNames: [...card.featureNames] };
}

/** The probability a logistic regression gives a feature row, as the ONNX model computes it (float32). */
export function referenceProbability(model: LogisticRegressionModel, features: CardFeatures): number {
  return predictProbability(model, referenceFraudVector(features));
}

/**
 * A second fraud model (the shipped one with other coefficients) written as ONNX into a temp
 * directory, ready to register: its scores differ from the shipped model's on every window.
 */
export async function writeChallengerModel(): Promise<{ model: LogisticRegressionModel; registration: NewModelVersion; path: string }> {
  const base = shippedFraudModel();
  const model = { ...base, weights: base.weights.map((w) => w * 0.6), bias: base.bias + 1.5 };
  const bytes = logisticRegressionToOnnx(model, { docString: 'test challenger' });
  const dir = await mkdtemp(path.join(tmpdir(), 'tributary-models-'));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const file = path.join(dir, `fraud-lr-${sha256.slice(0, 12)}.onnx`);
  await writeFile(file, bytes);
  const registration: NewModelVersion = {
    model: 'fraud-lr',
    version: sha256.slice(0, 12),
    fileSha256: sha256,
    file,
    featureSet: CARD_FEATURES.name,
    featureVersion: CARD_FEATURES.version,
    trainedFrom: 0,
    trainedTo: 0,
    metrics: { auc: 0.5, logLoss: 1, rows: 0, positives: 0 },
    createdAt: Date.now(),
  };
  return { model, registration, path: file };
}

/** A fraud_predictions row as the lifecycle tests read it back (Int64 columns arrive as strings). */
export interface PredictionRow {
  cardId: string;
  windowEnd: string;
  probability: number;
  model: string;
  modelVersion: string;
  featureVersion: string;
  source: string;
  challengerModel: string;
  challengerProbability: number | null;
}

/** A real WebSocket client subscribed to `channel`; `received` fills with each data item. */
export async function subscribeChannel<T>(port: number, channel: string): Promise<{ received: T[]; close: () => void }> {
  const received: T[] = [];
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.type === 'data' && message.channel === channel) received.push(message.data);
  });
  socket.send(JSON.stringify({ type: 'subscribe', channel }));
  return { received, close: () => socket.close() };
}
