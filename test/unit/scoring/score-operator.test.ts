import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { AckToken } from '../../../src/core/ack.ts';
import { newSideOutputs, type Batch, type StreamRecord } from '../../../src/core/batch.ts';
import { ConfigError, ScoringError } from '../../../src/core/errors.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { score, type ScoreOptions } from '../../../src/operators/score.ts';
import { predictProbability, type LogisticRegressionModel } from '../../../src/scoring/logistic-regression.ts';
import { logisticRegressionToOnnx } from '../../../src/scoring/logistic-regression-onnx.ts';
import { OnnxModel } from '../../../src/scoring/onnx-model.ts';
import type { ScoringModel } from '../../../src/scoring/scoring-model.ts';
import { seededRandom } from '../../../src/scoring/synthetic-data.ts';

interface Payment {
  id: number;
  features: number[];
}
interface Scored {
  id: number;
  probability: number;
  version: string;
}

const lr: LogisticRegressionModel = {
  weights: [1.1, -0.7, 0.4, 2],
  bias: -0.3,
  mean: [10, 0, 5, 1],
  scale: [3, 1, 2, 0.5],
  featureNames: ['amount', 'count', 'hour', 'ratio'],
};

let dir = '';
let modelPath = '';
let onnx: OnnxModel;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-score-'));
  modelPath = join(dir, 'fraud.onnx');
  await writeFile(modelPath, logisticRegressionToOnnx(lr));
  onnx = await OnnxModel.load(modelPath);
});

after(async () => {
  await onnx.close();
  await rm(dir, { recursive: true, force: true });
});

/** Wraps the real model, recording the rows of each call; can fail or slow down on demand. */
class SpyModel implements ScoringModel {
  readonly runs: number[] = [];
  failNext = 0;
  failing = false;
  delayMs = 0;
  closed = false;
  readonly inner: ScoringModel;
  constructor(inner: ScoringModel) {
    this.inner = inner;
  }
  get name() {
    return this.inner.name;
  }
  get version() {
    return this.inner.version;
  }
  get featureNames() {
    return this.inner.featureNames;
  }
  get featureCount() {
    return this.inner.featureCount;
  }
  async score(features: Float32Array, rows: number): Promise<Float32Array> {
    this.runs.push(rows);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failing || this.failNext > 0) {
      this.failNext = Math.max(0, this.failNext - 1);
      throw new ScoringError('session exploded');
    }
    return this.inner.score(features, rows);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A source emitting batches the way the runtime does: one token per batch, released after the synchronous pass. */
class Harness {
  readonly input = new Subject<Batch<Payment>>();
  readonly outputs: Batch<Scored>[] = [];
  readonly tokens: AckToken[] = [];
  readonly doneCount = new Map<AckToken, number>();
  /** Tokens already done when their output batch reached downstream (must stay empty). */
  readonly doneBeforeEmission: AckToken[] = [];
  completed = false;
  error: unknown = undefined;
  readonly finished: Promise<void>;
  private nextId = 0;
  private batches = 0;

  constructor(scoring: ReturnType<typeof score<Payment, Scored>>) {
    this.finished = new Promise((resolve) => {
      this.input.pipe(scoring).subscribe({
        next: (batch) => {
          for (const token of batch.acks) if (token.done) this.doneBeforeEmission.push(token);
          this.outputs.push(batch);
        },
        error: (error) => {
          this.error = error;
          resolve();
        },
        complete: () => {
          this.completed = true;
          resolve();
        },
      });
    });
  }

  send(rows: number, featuresOf: (id: number) => number[] = randomFeatures): Batch<Payment> {
    const records: StreamRecord<Payment>[] = [];
    for (let i = 0; i < rows; i++) {
      const id = this.nextId++;
      records.push({ value: { id, features: featuresOf(id) }, key: `k${id % 7}`, eventTime: 1_000 + id, topic: 'payments', partition: id % 3, offset: String(id) });
    }
    const token = new AckToken('payments/0', BigInt(this.nextId), rows, (done) => this.doneCount.set(done, (this.doneCount.get(done) ?? 0) + 1));
    const batch: Batch<Payment> = { records, watermark: this.batches++, acks: [token], side: newSideOutputs() };
    this.tokens.push(token);
    this.input.next(batch);
    token.release(); // the source's own reference
    return batch;
  }
}

const random = seededRandom(99);
function randomFeatures(): number[] {
  return lr.mean.map((mean, j) => mean + lr.scale[j]! * 4 * (random() - 0.5));
}

function options(overrides: Partial<ScoreOptions<Payment, Scored>> = {}): ScoreOptions<Payment, Scored> {
  return {
    features: (p) => p.features,
    output: (p, probability, model) => ({ id: p.id, probability, version: model.version }),
    retry: { initialDelayMs: 1, maxDelayMs: 2 },
    ...overrides,
  };
}

function expectedProbability(features: number[]): number {
  return predictProbability(lr, Float32Array.from(features)); // the model sees float32 inputs
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for an eventual state without betting on timings of a busy machine. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(1);
  }
}

test('order, values, provenance and acks are preserved across many batches of varying sizes', async () => {
  const spy = new SpyModel(onnx);
  const harness = new Harness(score(spy, options({ maxBatchRows: 64, maxDelayMs: 3 })));
  const sizes = [0, 5, 0, 0, 130, 1, 64, 0, 17, 63, 65, 2, 0, 40, 300, 0, 9];
  const sent: Batch<Payment>[] = [];
  for (let round = 0; round < 6; round++) {
    for (const size of sizes) {
      sent.push(harness.send((size + round) % 7 === 0 ? 0 : size));
      if (random() < 0.3) await tick(Math.floor(random() * 5));
    }
  }
  harness.input.complete();
  await harness.finished;

  assert.equal(harness.completed, true);
  assert.equal(harness.outputs.length, sent.length);
  let worst = 0;
  for (let b = 0; b < sent.length; b++) {
    const input = sent[b]!;
    const output = harness.outputs[b]!;
    assert.equal(output.watermark, b);
    assert.equal(output.acks, input.acks);
    assert.equal(output.side, input.side);
    assert.equal(output.side.deadLetters.length, 0);
    assert.deepEqual(output.records.map((r) => r.offset), input.records.map((r) => r.offset));
    for (let i = 0; i < input.records.length; i++) {
      const source = input.records[i]!;
      const scored = output.records[i]!;
      assert.deepEqual([scored.key, scored.eventTime, scored.topic, scored.partition], [source.key, source.eventTime, source.topic, source.partition]);
      assert.equal(scored.value.id, source.value.id);
      assert.equal(scored.value.version, onnx.version);
      worst = Math.max(worst, Math.abs(scored.value.probability - expectedProbability(source.value.features)));
    }
  }
  assert.ok(worst < 1e-6, `largest difference ${worst}`);
  const totalRows = sent.reduce((sum, batch) => sum + batch.records.length, 0);
  assert.equal(spy.runs.reduce((sum, rows) => sum + rows, 0), totalRows);
  assert.ok(spy.runs.every((rows) => rows >= 1 && rows <= 64), `runs ${spy.runs.join(',')}`);
  assert.deepEqual(harness.doneBeforeEmission, []);
  assert.ok(harness.tokens.every((token) => token.done && harness.doneCount.get(token) === 1));
});

test('rows from many input batches share one model call', async () => {
  const spy = new SpyModel(onnx);
  const harness = new Harness(score(spy, options({ maxDelayMs: 20 })));
  for (let i = 0; i < 10; i++) harness.send(3);
  await waitFor(() => harness.outputs.length === 10, 'ten outputs');
  assert.deepEqual(spy.runs, [30]);
  assert.equal(harness.outputs.length, 10);
  harness.input.complete();
  await harness.finished;
});

test('a micro-batch is sealed at maxBatchRows and the rest after maxDelayMs', async () => {
  const spy = new SpyModel(onnx);
  const harness = new Harness(score(spy, options({ maxBatchRows: 8, maxDelayMs: 500 })));
  for (let i = 0; i < 10; i++) harness.send(3);
  await waitFor(() => harness.outputs.length === 8, 'eight outputs');
  assert.deepEqual(spy.runs, [8, 8, 8]);
  await tick(20);
  assert.equal(harness.outputs.length, 8); // batch 8 (rows 24..26) waits for the delayed micro-batch
  await waitFor(() => harness.outputs.length === 10, 'ten outputs');
  assert.deepEqual(spy.runs, [8, 8, 8, 6]);
  assert.equal(harness.outputs.length, 10);
  harness.input.complete();
  await harness.finished;
});

test('an empty batch passes through synchronously when nothing is pending, and waits its turn otherwise', async () => {
  const harness = new Harness(score(new SpyModel(onnx), options()));
  const empty = harness.send(0);
  assert.equal(harness.outputs.length, 1);
  assert.deepEqual(harness.outputs[0]!.records, []);
  assert.equal(empty.acks[0]!.done, true);

  harness.send(2);
  harness.send(0);
  assert.equal(harness.outputs.length, 1);
  assert.equal(harness.tokens[2]!.done, false);
  await waitFor(() => harness.outputs.length === 3, 'three outputs');
  assert.deepEqual(harness.outputs.map((b) => b.records.length), [0, 2, 0]);
  assert.deepEqual(harness.outputs.map((b) => b.watermark), [0, 1, 2]);
  assert.ok(harness.tokens.every((token) => harness.doneCount.get(token) === 1));
  harness.input.complete();
  await harness.finished;
});

test('acks are held until the output batch is emitted, then released exactly once', async () => {
  const spy = new SpyModel(onnx);
  spy.delayMs = 20;
  const harness = new Harness(score(spy, options({ maxDelayMs: 1 })));
  const batch = harness.send(4);
  const token = batch.acks[0]!;
  assert.equal(token.done, false);
  await tick(5);
  assert.equal(token.done, false);
  assert.equal(harness.outputs.length, 0);
  await waitFor(() => harness.outputs.length === 1, 'one output');
  assert.equal(token.done, true);
  assert.equal(harness.doneCount.get(token), 1);
  assert.deepEqual(harness.doneBeforeEmission, []);
  harness.input.complete();
  await harness.finished;
});

test('a record whose features fail goes to the dead letters; the rest of its batch is scored', async () => {
  const harness = new Harness(
    score(
      new SpyModel(onnx),
      options({
        name: 'fraud-score',
        features: (p) => {
          if (p.id === 1) throw new Error('amount missing');
          return p.features;
        },
      }),
    ),
  );
  const featuresOf = (id: number) => (id === 3 ? [1, 2, 3] : id === 4 ? [1, Number.NaN, 3, 4] : randomFeatures());
  const batch = harness.send(6, featuresOf);
  harness.input.complete();
  await harness.finished;
  const output = harness.outputs[0]!;
  assert.deepEqual(output.records.map((r) => r.offset), ['0', '2', '5']);
  assert.deepEqual(
    batch.side.deadLetters.map((d) => [d.step, d.offset, d.topic, d.partition, d.key, d.raw, d.error]),
    [
      ['fraud-score', '1', 'payments', 1, 'k1', null, 'features: amount missing'],
      ['fraud-score', '3', 'payments', 0, 'k3', null, 'features: feature vector has 3 values, the model takes 4'],
      ['fraud-score', '4', 'payments', 1, 'k4', null, 'features: feature 1 is NaN'],
    ],
  );
  assert.equal(harness.doneCount.get(batch.acks[0]!), 1);
});

test('rows of the wrong width that arrive while the model loads are dead-lettered, the others scored', async () => {
  const harness = new Harness(score(modelPath, options()));
  // Row 1 starts a 3-wide micro-batch and is rejected (NaN), leaving it empty; row 2 (2 wide) must not join it.
  const widths: Record<number, number[]> = { 1: [Number.NaN, 1, 1], 2: [1, 2] };
  const batch = harness.send(7, (id) => widths[id] ?? randomFeatures());
  harness.input.complete();
  await harness.finished;
  assert.deepEqual(harness.outputs[0]!.records.map((r) => r.offset), ['0', '3', '4', '5', '6']);
  assert.deepEqual(batch.side.deadLetters.map((d) => [d.step, d.offset]), [['score', '1'], ['score', '2']]);
  assert.equal(batch.side.deadLetters[0]!.error, 'features: feature 0 is NaN');
  assert.match(batch.side.deadLetters[1]!.error, /feature vectors have 2 values but model fraud@\w+ takes 4/);
});

test('a failing output function dead-letters that record only', async () => {
  const harness = new Harness(
    score(
      new SpyModel(onnx),
      options({
        output: (p, probability, model) => {
          if (p.id === 0) throw new Error('cannot format');
          return { id: p.id, probability, version: model.version };
        },
      }),
    ),
  );
  const batch = harness.send(2);
  harness.input.complete();
  await harness.finished;
  assert.deepEqual(harness.outputs[0]!.records.map((r) => r.offset), ['1']);
  assert.deepEqual(batch.side.deadLetters.map((d) => [d.step, d.offset, d.error]), [['score', '0', 'output: cannot format']]);
});

test('a transient scoring failure is retried and scored', async () => {
  const spy = new SpyModel(onnx);
  spy.failNext = 2;
  const harness = new Harness(score(spy, options({ maxDelayMs: 1 })));
  const batch = harness.send(5);
  harness.input.complete();
  await harness.finished;
  assert.deepEqual(spy.runs, [5, 5, 5]);
  assert.equal(harness.outputs[0]!.records.length, 5);
  assert.equal(batch.side.deadLetters.length, 0);
});

test('a persistent scoring failure dead-letters the affected records and the stream keeps going', async () => {
  const spy = new SpyModel(onnx);
  spy.failing = true;
  const harness = new Harness(score(spy, options({ name: 'fraud-score', maxDelayMs: 1 })));
  const failed = harness.send(3);
  await waitFor(() => harness.outputs.length === 1, 'one output');
  assert.deepEqual(spy.runs, [3, 3, 3]);
  assert.equal(harness.outputs.length, 1);
  assert.deepEqual(harness.outputs[0]!.records, []);
  assert.deepEqual(failed.side.deadLetters.map((d) => [d.step, d.offset]), [['fraud-score', '0'], ['fraud-score', '1'], ['fraud-score', '2']]);
  assert.ok(failed.side.deadLetters.every((d) => d.error.includes('failed after 3 attempt(s): session exploded')), failed.side.deadLetters[0]!.error);
  assert.equal(harness.doneCount.get(failed.acks[0]!), 1);

  spy.failing = false;
  const recovered = harness.send(2);
  harness.input.complete();
  await harness.finished;
  assert.equal(harness.error, undefined);
  assert.deepEqual(harness.outputs[1]!.records.map((r) => r.offset), ['3', '4']);
  assert.equal(recovered.side.deadLetters.length, 0);
});

test('complete() waits for pending inference', async () => {
  const spy = new SpyModel(onnx);
  spy.delayMs = 25;
  const harness = new Harness(score(spy, options({ maxDelayMs: 1_000 })));
  for (let i = 0; i < 5; i++) harness.send(4);
  let outputsAtCompletion = -1;
  void harness.finished.then(() => (outputsAtCompletion = harness.outputs.length));
  harness.input.complete();
  assert.equal(harness.completed, false);
  await tick(5);
  assert.equal(harness.completed, false);
  await harness.finished;
  assert.equal(harness.completed, true);
  assert.equal(outputsAtCompletion, 5);
  assert.deepEqual(spy.runs, [20]); // completion flushed without waiting for maxDelayMs
});

test('a model path is loaded lazily; a factory-made model is closed after the stream ends, a passed-in one is not', async () => {
  const fromPath = new Harness(score(modelPath, options()));
  fromPath.send(3);
  fromPath.input.complete();
  await fromPath.finished;
  assert.equal(fromPath.outputs[0]!.records.length, 3);
  assert.equal(fromPath.outputs[0]!.records[0]!.value.version, onnx.version);

  const made = new SpyModel(onnx);
  const fromFactory = new Harness(score(async () => made, options()));
  fromFactory.send(1);
  fromFactory.input.complete();
  await fromFactory.finished;
  await tick();
  assert.equal(made.closed, true);

  const passed = new SpyModel(onnx);
  const fromInstance = new Harness(score(passed, options()));
  fromInstance.send(1);
  fromInstance.input.complete();
  await fromInstance.finished;
  await tick();
  assert.equal(passed.closed, false);
});

test('a missing model file or mismatched feature names end the stream with a ConfigError', async () => {
  const missing = new Harness(score(join(dir, 'missing.onnx'), options()));
  missing.send(2);
  await missing.finished;
  assert.ok(missing.error instanceof ConfigError && missing.error.message.includes('npm run train'));
  assert.equal(missing.outputs.length, 0);

  const mismatched = new Harness(score(onnx, options({ featureNames: ['amount', 'hour', 'count', 'ratio'] })));
  await mismatched.finished;
  assert.ok(mismatched.error instanceof ConfigError);
  assert.match(mismatched.error.message, /feature 1 is "hour" but model fraud@\w+ expects "count"/);
});

test('unsubscribing drops pending rows without acknowledging them and closes an owned model after its run', async () => {
  const made = new SpyModel(onnx);
  made.delayMs = 20;
  const input = new Subject<Batch<Payment>>();
  const outputs: Batch<Scored>[] = [];
  const subscription = input.pipe(score(async () => made, options({ maxDelayMs: 1 }))).subscribe((batch) => outputs.push(batch));
  const token = new AckToken('payments/0', 0n, 1, () => assert.fail('a dropped batch must not be acknowledged'));
  input.next({ records: [{ value: { id: 0, features: randomFeatures() }, key: '', eventTime: 0, topic: 'payments', partition: 0, offset: '0' }], watermark: 0, acks: [token], side: newSideOutputs() });
  token.release();
  await waitFor(() => made.runs.length === 1, 'the model call');
  subscription.unsubscribe();
  assert.equal(made.closed, false); // its run is still in flight
  await waitFor(() => made.closed, 'the model to close');
  assert.deepEqual(outputs, []);
  assert.equal(token.done, false);
});

test('metrics count scored rows, model calls and dead letters', async () => {
  const metrics = new Metrics();
  const spy = new SpyModel(onnx);
  const harness = new Harness(
    score(spy, options({ name: 'fraud-score', maxBatchRows: 4, metrics: { metrics, topology: 'card-fraud' }, features: (p) => (p.id === 0 ? [] : p.features) })),
  );
  harness.send(9);
  harness.input.complete();
  await harness.finished;
  assert.deepEqual(spy.runs, [4, 4]);
  const scored = await metrics.scoredRows.get();
  assert.deepEqual(scored.values.map((v) => [v.labels, v.value]), [[{ topology: 'card-fraud', model: 'fraud' }, 8]]);
  const latency = await metrics.scoringSeconds.get();
  assert.equal(latency.values.find((v) => v.metricName === 'tributary_scoring_seconds_count')?.value, 2);
  const dead = await metrics.deadLetters.get();
  assert.deepEqual(dead.values.map((v) => [v.labels, v.value]), [[{ topology: 'card-fraud', step: 'fraud-score' }, 1]]);
});

test('invalid micro-batching options are rejected at construction', () => {
  assert.throws(() => score(onnx, options({ maxBatchRows: 0 })), ConfigError);
  assert.throws(() => score(onnx, options({ maxDelayMs: -1 })), ConfigError);
});
