/**
 * Scoring throughput of an 8-feature logistic regression in onnxruntime-node (one intra-op
 * thread, no spinning), per model-call batch size, plus the score operator end to end.
 *
 *   npx tsx scripts/bench-scoring.ts [secondsPerCase]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { untrackedToken } from '../src/core/ack.ts';
import { newSideOutputs, type Batch, type StreamRecord } from '../src/core/batch.ts';
import { score } from '../src/operators/score.ts';
import { predictProbability, trainLogisticRegression } from '../src/scoring/logistic-regression.ts';
import { logisticRegressionToOnnx } from '../src/scoring/logistic-regression-onnx.ts';
import { OnnxModel } from '../src/scoring/onnx-model.ts';
import { syntheticClassification } from '../src/scoring/synthetic-data.ts';

const BATCH_SIZES = [1, 64, 256, 1024, 4096];
const FEATURES = 8;
const secondsPerCase = Number(process.argv[2] ?? 1);

const data = syntheticClassification({ rows: 20_000, weights: [2, -1, 0.5, 0, 1.5, -2, 0.3, 1], bias: -1, seed: 5 });
const lr = trainLogisticRegression(data.x, data.y);
const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-'));
const path = join(dir, 'bench.onnx');
await writeFile(path, logisticRegressionToOnnx(lr));
const model = await OnnxModel.load(path);

const pool = new Float32Array(4096 * FEATURES);
for (let i = 0; i < 4096; i++) pool.set(data.x[i]!, i * FEATURES);

console.log(`node ${process.version}, onnxruntime-node CPU, ${FEATURES} features, ${secondsPerCase} s per case`);
console.log('batch rows | model calls/s | us per call | rows/s');
for (const rows of BATCH_SIZES) {
  const features = pool.subarray(0, rows * FEATURES);
  await timeLoop(async () => void (await model.score(features, rows)), 0.2); // warm-up
  const { calls, seconds } = await timeLoop(async () => void (await model.score(features, rows)), secondsPerCase);
  console.log(`${String(rows).padStart(10)} | ${fmt(calls / seconds).padStart(13)} | ${((seconds * 1e6) / calls).toFixed(1).padStart(11)} | ${fmt((calls * rows) / seconds)}`);
}

// The same model in plain JS, for scale.
{
  const started = performance.now();
  let rows = 0;
  let sink = 0;
  while (performance.now() - started < secondsPerCase * 1000) {
    for (let i = 0; i < 4096; i++) sink += predictProbability(lr, pool.subarray(i * FEATURES, (i + 1) * FEATURES));
    rows += 4096;
  }
  console.log(`predictProbability (JS, per row): ${fmt(rows / ((performance.now() - started) / 1000))} rows/s (checksum ${sink.toFixed(0)})`);
}

await benchOperator(1_000_000, 500);
await model.close();
await rm(dir, { recursive: true, force: true });

/** Pushes source batches of `batchRows` records through score() and waits for completion. */
async function benchOperator(totalRows: number, batchRows: number): Promise<void> {
  const values = data.x.slice(0, batchRows).map((features, id) => ({ id, features }));
  const records: StreamRecord<(typeof values)[number]>[] = values.map((value) => ({ value, key: '', eventTime: 0, topic: 'bench', partition: 0, offset: String(value.id) }));
  const input = new Subject<Batch<(typeof values)[number]>>();
  let scored = 0;
  const done = new Promise<void>((resolve, reject) =>
    input.pipe(score(model, { features: (v) => v.features, output: (_v, probability) => probability, maxBatchRows: 1024, maxDelayMs: 2 })).subscribe({
      next: (batch) => void (scored += batch.records.length),
      error: reject,
      complete: resolve,
    }),
  );
  const started = performance.now();
  for (let sent = 0; sent < totalRows; sent += batchRows) {
    input.next({ records, watermark: sent, acks: [untrackedToken(batchRows)], side: newSideOutputs() });
    // Yield now and then, as a Kafka source would between fetches, so inference overlaps intake.
    if ((sent / batchRows) % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
  }
  input.complete();
  await done;
  const seconds = (performance.now() - started) / 1000;
  console.log(`score operator, ${batchRows}-row source batches, maxBatchRows 1024: ${fmt(scored / seconds)} rows/s (${scored} rows in ${seconds.toFixed(2)} s)`);
}

async function timeLoop(body: () => Promise<void>, seconds: number): Promise<{ calls: number; seconds: number }> {
  const started = performance.now();
  let calls = 0;
  while (performance.now() - started < seconds * 1000) {
    for (let i = 0; i < 50; i++) await body();
    calls += 50;
  }
  return { calls, seconds: (performance.now() - started) / 1000 };
}

function fmt(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}
