import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { AckToken } from '../../../src/core/ack.ts';
import { newSideOutputs, type Batch, type StreamRecord } from '../../../src/core/batch.ts';
import { score } from '../../../src/operators/score.ts';
import type { ScoringModel } from '../../../src/scoring/scoring-model.ts';

/** Scores each row as its one feature / 10,000; every call waits until the test lets it finish. */
class GatedModel implements ScoringModel {
  readonly name = 'gated';
  readonly version = 'v1';
  readonly featureNames = undefined;
  readonly featureCount = 1;
  readonly runs: number[] = [];
  private readonly gates: Array<() => void> = [];
  score(features: Float32Array, rows: number): Promise<Float32Array> {
    this.runs.push(rows);
    const result = Float32Array.from(features.subarray(0, rows), (v) => v / 10_000);
    return new Promise((resolve) => this.gates.push(() => resolve(result)));
  }
  /** Lets the oldest waiting call finish. */
  finishOne(): void {
    this.gates.shift()!();
  }
  get waiting(): number {
    return this.gates.length;
  }
  async close(): Promise<void> {}
}

const until = async (condition: () => boolean, what: string) => {
  for (let i = 0; i < 5_000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.ok(condition(), `timed out waiting for ${what}`);
};

test('a burst is scored and emitted in chunks: the first leaves before the rest are scored, the rest in one call, acks held until the last', async () => {
  const model = new GatedModel();
  const input = new Subject<Batch<{ id: number }>>();
  const outputs: Batch<{ id: number; p: number }>[] = [];
  const acksDoneAtEmission: boolean[] = [];
  // maxDelayMs of a minute: only sealing a burst at once lets its rows reach the model.
  input.pipe(score<{ id: number }, { id: number; p: number }>(model, { features: (v) => [v.id], output: (v, p) => ({ id: v.id, p }), burstRows: 500, maxDelayMs: 60_000 })).subscribe((batch) => {
    acksDoneAtEmission.push(batch.acks[0]!.done);
    outputs.push(batch);
  });
  let done = 0;
  const token = new AckToken('p/0', 1_299n, 1_300, () => done++);
  const records: StreamRecord<{ id: number }>[] = Array.from({ length: 1_300 }, (_, id) => ({ value: { id }, key: `k${id}`, eventTime: id, topic: 't', partition: 0, offset: String(id) }));
  const side = newSideOutputs();
  input.next({ records, watermark: 7, acks: [token], side });
  token.release();

  await until(() => model.waiting === 1, 'the first chunk to reach the model');
  assert.deepEqual(model.runs, [500], 'one chunk at a time, sealed without waiting for maxDelayMs');
  model.finishOne();
  await until(() => outputs.length === 1, 'the first chunk to be emitted');
  assert.equal(done, 0, 'the batch is not acknowledged while chunks are pending');
  // The chunks sealed while the model was busy go in one call (within maxBatchRows).
  await until(() => model.waiting === 1, 'the rest to reach the model');
  model.finishOne();
  await until(() => outputs.length === 3, 'every chunk');
  assert.deepEqual(model.runs, [500, 800]);
  assert.deepEqual(outputs.map((b) => b.records.length), [500, 500, 300]);
  assert.deepEqual(outputs.flatMap((b) => b.records.map((r) => r.value.id)), records.map((r) => r.value.id), 'every row once, in input order');
  for (const batch of outputs) {
    assert.equal(batch.watermark, 7);
    assert.equal(batch.side, side);
    assert.deepEqual(batch.acks, [token]);
    for (const record of batch.records) assert.equal(record.value.p, Math.fround(record.value.id / 10_000));
  }
  assert.deepEqual(acksDoneAtEmission, [false, false, false]);
  assert.equal(done, 1, 'acknowledged once, after the last chunk');
});

test('a batch at or under burstRows stays one output batch, and small batches still share a micro-batch', async () => {
  const model = new GatedModel();
  const input = new Subject<Batch<{ id: number }>>();
  const outputs: Batch<{ id: number; p: number }>[] = [];
  input.pipe(score<{ id: number }, { id: number; p: number }>(model, { features: (v) => [v.id], output: (v, p) => ({ id: v.id, p }), burstRows: 500, maxDelayMs: 20 })).subscribe((batch) => outputs.push(batch));
  const send = (from: number, rows: number) => {
    const token = new AckToken('p/0', BigInt(from + rows), rows, () => {});
    input.next({ records: Array.from({ length: rows }, (_, i) => ({ value: { id: from + i }, key: 'k', eventTime: 0, topic: 't', partition: 0, offset: String(from + i) })), watermark: 0, acks: [token], side: newSideOutputs() });
    token.release();
  };
  send(0, 500);
  await until(() => model.waiting === 1, 'the full batch to be sealed');
  send(500, 3);
  send(503, 4);
  model.finishOne();
  await until(() => model.waiting === 1, 'the small batches to be sealed by their delay');
  model.finishOne();
  await until(() => outputs.length === 3, 'three outputs');
  assert.deepEqual(model.runs, [500, 7]);
  assert.deepEqual(outputs.map((b) => b.records.length), [500, 3, 4]);
});

test('sealed micro-batches merge into one call only up to maxBatchRows', async () => {
  const model = new GatedModel();
  const input = new Subject<Batch<{ id: number }>>();
  const outputs: Batch<{ id: number; p: number }>[] = [];
  input.pipe(score<{ id: number }, { id: number; p: number }>(model, { features: (v) => [v.id], output: (v, p) => ({ id: v.id, p }), burstRows: 100, maxBatchRows: 250, maxDelayMs: 60_000 })).subscribe((batch) => outputs.push(batch));
  const token = new AckToken('p/0', 699n, 700, () => {});
  input.next({ records: Array.from({ length: 700 }, (_, id) => ({ value: { id }, key: 'k', eventTime: 0, topic: 't', partition: 0, offset: String(id) })), watermark: 0, acks: [token], side: newSideOutputs() });
  token.release();
  for (let call = 0; call < 4; call++) {
    await until(() => model.waiting === 1, `call ${call + 1}`);
    model.finishOne();
  }
  await until(() => outputs.length === 7, 'seven chunks');
  assert.deepEqual(model.runs, [100, 200, 200, 200]);
  assert.deepEqual(outputs.flatMap((b) => b.records.map((r) => r.value.p)), Array.from({ length: 700 }, (_, id) => Math.fround(id / 10_000)));
});
