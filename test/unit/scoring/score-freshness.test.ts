import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { AckToken } from '../../../src/core/ack.ts';
import { newSideOutputs, type Batch, type StreamRecord } from '../../../src/core/batch.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { score } from '../../../src/operators/score.ts';
import type { ScoreSource } from '../../../src/scoring/fallback.ts';
import type { ScoringModel } from '../../../src/scoring/scoring-model.ts';

interface Window {
  card: string;
  amount: number;
}
interface Scored {
  card: string;
  probability: number;
  source: ScoreSource;
  reason: string;
}

/** probability = amount / 1000; records the rows of every call. */
class PlainModel implements ScoringModel {
  readonly name = 'plain';
  readonly version = 'v1';
  readonly featureNames = ['amount'];
  readonly featureCount = 1;
  readonly calls: number[] = [];
  async score(features: Float32Array, rows: number): Promise<Float32Array> {
    this.calls.push(rows);
    return features.subarray(0, rows).map((amount) => amount / 1000);
  }
  async close(): Promise<void> {}
}

const BATCH_PROBABILITY: Record<string, number> = { a: 0.25, b: 0.5 };

function run(options: { maxInputAge?: string; processingTime?: () => number }, ages: number[], now: number) {
  const model = new PlainModel();
  const metrics = new Metrics();
  const input = new Subject<Batch<Window>>();
  const outputs: Scored[][] = [];
  input
    .pipe(
      score<Window, Scored>(model, {
        name: 'fraud-score',
        features: (w) => [w.amount],
        output: (w, probability) => ({ card: w.card, probability, source: 'model', reason: '' }),
        fallback: (w, reason) => ({ card: w.card, probability: BATCH_PROBABILITY[w.card] ?? 0.01, source: BATCH_PROBABILITY[w.card] === undefined ? 'fallback' : 'batch', reason: reason.kind }),
        metrics: { metrics, topology: 'shop' },
        ...options,
      }),
    )
    .subscribe((batch) => outputs.push(batch.records.map((r) => r.value)));
  const records: StreamRecord<Window>[] = ages.map((age, i) => ({ value: { card: ['a', 'b', 'c'][i % 3]!, amount: 100 + i }, key: String(i), eventTime: now - age, topic: 't', partition: 0, offset: String(i) }));
  input.next({ records, watermark: now, acks: [new AckToken('t/0', BigInt(records.length), records.length, () => {})], side: newSideOutputs() });
  input.complete();
  return { model, metrics, outputs };
}

async function settled(outputs: unknown[][]): Promise<void> {
  for (let i = 0; i < 200 && outputs.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(outputs.length, 1, 'one output batch');
}

test('rows older than maxInputAge by processing time skip the model and get the fallback with reason stale-inputs, in input order', async () => {
  const now = 1_000_000;
  // Ages in ms against a 60 s gate: 60,000 exactly is still fresh, 60,001 is stale.
  const ages = [0, 60_001, 30_000, 60_000, 3_600_000, 5];
  const { model, metrics, outputs } = run({ maxInputAge: '1m', processingTime: () => now }, ages, now);
  await settled(outputs);
  assert.deepEqual(outputs[0], [
    { card: 'a', probability: Math.fround(100 / 1000), source: 'model', reason: '' },
    { card: 'b', probability: 0.5, source: 'batch', reason: 'stale-inputs' },
    { card: 'c', probability: Math.fround(102 / 1000), source: 'model', reason: '' },
    { card: 'a', probability: Math.fround(103 / 1000), source: 'model', reason: '' },
    { card: 'b', probability: 0.5, source: 'batch', reason: 'stale-inputs' },
    { card: 'c', probability: Math.fround(105 / 1000), source: 'model', reason: '' },
  ]);
  assert.deepEqual(model.calls, [4], 'only the four fresh rows reach the model');
  const fallbacks = (await metrics.scoringFallbackRows.get()).values.map(({ labels, value }) => [labels.reason, value]);
  assert.deepEqual(fallbacks, [['stale-inputs', 2]]);
});

test('without a processing time (a backfill, a plain-array run) nothing is stale and every row is scored', async () => {
  const now = 1_000_000;
  const { model, outputs } = run({ maxInputAge: '1m' }, [0, 3_600_000, 86_400_000], now);
  await settled(outputs);
  assert.deepEqual(outputs[0]!.map((row) => row.source), ['model', 'model', 'model']);
  assert.deepEqual(model.calls, [3]);
});

test('a batch of only stale rows never calls the model', async () => {
  const now = 5_000_000;
  const { model, outputs } = run({ maxInputAge: '10s', processingTime: () => now }, [10_001, 20_000, 3_000_000], now);
  await settled(outputs);
  assert.deepEqual(outputs[0]!.map((row) => [row.source, row.reason]), [['batch', 'stale-inputs'], ['batch', 'stale-inputs'], ['fallback', 'stale-inputs']]);
  assert.deepEqual(model.calls, []);
});

test('maxInputAge without a fallback is refused at definition', () => {
  assert.throws(
    () => score<Window, Scored>(new PlainModel(), { features: (w) => [w.amount], output: (w, probability) => ({ card: w.card, probability, source: 'model', reason: '' }), maxInputAge: '1m' }),
    (error: unknown) => error instanceof ConfigError && error.field === 'score.maxInputAge',
  );
});
