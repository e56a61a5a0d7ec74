import { test } from 'node:test';
import assert from 'node:assert/strict';
import { untrackedToken } from '../../../src/core/ack.ts';
import { newSideOutputs, type Batch } from '../../../src/core/batch.ts';
import { MicroBatcher, type SettledBatch } from '../../../src/scoring/micro-batcher.ts';

function batchOf(values: number[]): Batch<number> {
  return { records: values.map((value, i) => ({ value, key: String(value), eventTime: i, topic: 't', partition: 0, offset: String(i) })), watermark: 0, acks: [untrackedToken()], side: newSideOutputs() };
}

/** A batcher whose model calls are recorded (their rows) and answered when the test says so. */
function recordingBatcher(maxDelayMs: number) {
  const calls: number[][] = [];
  const answers: Array<() => void> = [];
  const settled: SettledBatch<number>[] = [];
  const batcher = new MicroBatcher<number>({
    maxBatchRows: 100,
    maxDelayMs,
    features: (v) => [v],
    featureWidth: () => 1,
    run: (features) => {
      calls.push([...features]);
      return new Promise((resolve) => answers.push(() => resolve(Float32Array.from(features))));
    },
    emit: (s) => settled.push(s),
  });
  return { batcher, calls, answers, settled };
}

test('maxDelayMs 0: a small batch goes to the model as it is added; batches added while the model is busy share its next call', async () => {
  const { batcher, calls, answers, settled } = recordingBatcher(0);
  batcher.add(batchOf([1, 2, 3]));
  assert.deepEqual(calls, [[1, 2, 3]], 'called in the same turn, with no timer');
  batcher.add(batchOf([4]));
  batcher.add(batchOf([5, 6]));
  assert.equal(calls.length, 1, 'the model is busy: the new rows wait for it');
  answers.shift()!();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls, [[1, 2, 3], [4, 5, 6]]);
  answers.shift()!();
  await batcher.whenDrained();
  assert.deepEqual(settled.map((s) => [...s.probabilities]), [[1, 2, 3], [4], [5, 6]]);
});

test('maxDelayMs above 0: a small batch waits for others before the model is called', async () => {
  const { batcher, calls, answers } = recordingBatcher(60_000);
  batcher.add(batchOf([1, 2, 3]));
  batcher.add(batchOf([4]));
  assert.deepEqual(calls, [], 'nothing sealed yet');
  const drained = batcher.whenDrained();
  assert.deepEqual(calls, [[1, 2, 3, 4]]);
  answers.shift()!();
  await drained;
});
