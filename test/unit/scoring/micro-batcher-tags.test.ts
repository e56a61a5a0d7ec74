import { test } from 'node:test';
import assert from 'node:assert/strict';
import { untrackedToken } from '../../../src/core/ack.ts';
import { newSideOutputs, type Batch } from '../../../src/core/batch.ts';
import { MicroBatcher, type SettledBatch } from '../../../src/scoring/micro-batcher.ts';

function batchOf(values: number[]): Batch<number> {
  return { records: values.map((value, i) => ({ value, key: String(value), eventTime: i, topic: 't', partition: 0, offset: String(i) })), watermark: 0, acks: [untrackedToken()], side: newSideOutputs() };
}

/** Runs batches through a batcher whose n-th model call returns tags[n] and the row's value as its score. */
async function settle(batches: Batch<number>[], tags: string[], maxBatchRows: number): Promise<SettledBatch<number>[]> {
  const settled: SettledBatch<number>[] = [];
  let call = 0;
  const batcher = new MicroBatcher<number>({
    maxBatchRows,
    maxDelayMs: 1,
    features: (v) => [v],
    featureWidth: () => 1,
    run: async (features) => ({ probabilities: Float32Array.from(features), challenger: Float32Array.from(features, (f) => f + 0.5), tag: tags[call++] }),
    emit: (s) => settled.push(s),
  });
  for (const batch of batches) batcher.add(batch);
  await batcher.whenDrained();
  return settled;
}

test('one assignment for a whole batch is one tag, without a per-row array', async () => {
  const [settled] = await settle([batchOf([1, 2, 3])], ['A'], 10);
  assert.equal(settled!.tag, 'A');
  assert.equal(settled!.tags, null);
  assert.deepEqual([...settled!.probabilities], [1, 2, 3]);
  assert.deepEqual([...settled!.challenger!], [1.5, 2.5, 3.5]);
});

test('a swap between the micro-batches of one input batch tags each row with the assignment that scored it', async () => {
  const [settled] = await settle([batchOf([1, 2, 3, 4, 5])], ['A', 'B', 'A'], 2);
  assert.deepEqual(settled!.tags, ['A', 'A', 'B', 'B', 'A']);
  assert.deepEqual([...settled!.probabilities], [1, 2, 3, 4, 5]);
});

test('micro-batches spanning input batches tag each batch by its own rows', async () => {
  const settled = await settle([batchOf([1, 2, 3]), batchOf([4, 5, 6])], ['A', 'B', 'C'], 2);
  assert.deepEqual(settled.map((s) => s.tags ?? s.tag), [['A', 'A', 'B'], ['B', 'C', 'C']]);
});

test('a burst in chunks: every chunk but the last says more chunks follow, in order; a plain batch says none', async () => {
  const settled: SettledBatch<number>[] = [];
  const batcher = new MicroBatcher<number>({ maxBatchRows: 10, maxDelayMs: 1, features: (v) => [v], featureWidth: () => 1, run: async (features) => ({ probabilities: Float32Array.from(features) }), emit: (s) => settled.push(s) });
  batcher.addInChunks(batchOf([1, 2, 3, 4, 5, 6, 7]), 3, () => {});
  batcher.add(batchOf([8]));
  await batcher.whenDrained();
  assert.deepEqual(settled.map((s) => [s.rows.map((r) => r.value), s.moreChunks]), [[[1, 2, 3], true], [[4, 5, 6], true], [[7], false], [[8], false]]);
});
