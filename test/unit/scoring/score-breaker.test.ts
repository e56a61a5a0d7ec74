import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { AckToken } from '../../../src/core/ack.ts';
import { newSideOutputs, type Batch, type DeadLetter, type StreamRecord } from '../../../src/core/batch.ts';
import { ScoringError } from '../../../src/core/errors.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { score, type ScoreOptions } from '../../../src/operators/score.ts';
import type { ScoreSource } from '../../../src/scoring/fallback.ts';
import type { ScoringModel } from '../../../src/scoring/scoring-model.ts';
import { seededRandom } from '../../../src/scoring/synthetic-data.ts';

interface Payment {
  id: number;
  amount: number;
}
interface Scored {
  id: number;
  probability: number | null;
  source: ScoreSource;
  reason?: string;
}

/** A model in plain JS (probability = amount / 1000) that can be down or slow; slowness moves the test's clock. */
class FlakyModel implements ScoringModel {
  readonly name = 'flaky';
  readonly version = 'v1';
  readonly featureNames = ['amount'];
  readonly featureCount = 1;
  /** Rows of every call, failed ones included. */
  readonly calls: number[] = [];
  down = false;
  /** Answers with one probability too few. */
  short = false;
  /** Milliseconds each call takes on `clock`. */
  latencyMs = 0;
  constructor(private readonly clock: { now: number }) {}
  async score(features: Float32Array, rows: number): Promise<Float32Array> {
    this.calls.push(rows);
    this.clock.now += this.latencyMs;
    if (this.down) throw new ScoringError('model server unreachable');
    return features.subarray(0, this.short ? rows - 1 : rows).map((amount) => amount / 1000);
  }
  async close(): Promise<void> {}
}

/** Sends batches like the runtime does (one ack token each) and collects what comes out. */
class Harness {
  readonly input = new Subject<Batch<Payment>>();
  readonly outputs: Batch<Scored>[] = [];
  readonly sent: Batch<Payment>[] = [];
  readonly doneCount = new Map<AckToken, number>();
  readonly doneBeforeEmission: AckToken[] = [];
  private nextId = 0;
  constructor(operator: ReturnType<typeof score<Payment, Scored>>) {
    this.input.pipe(operator).subscribe((batch) => {
      for (const token of batch.acks) if (token.done) this.doneBeforeEmission.push(token);
      this.outputs.push(batch);
    });
  }
  send(rows: number): Batch<Payment> {
    const records: StreamRecord<Payment>[] = [];
    for (let i = 0; i < rows; i++) {
      const id = this.nextId++;
      records.push({ value: { id, amount: id % 1000 }, key: `card-${id % 5}`, eventTime: id, topic: 'payments', partition: 0, offset: String(id) });
    }
    const token = new AckToken('payments/0', BigInt(this.nextId), rows, (done) => this.doneCount.set(done, (this.doneCount.get(done) ?? 0) + 1));
    const batch: Batch<Payment> = { records, watermark: this.sent.length, acks: [token], side: newSideOutputs() };
    this.sent.push(batch);
    this.input.next(batch);
    token.release();
    return batch;
  }
  /** Sends one batch and waits for its output (so each batch is one micro-batch). */
  async roundTrip(rows: number): Promise<{ rows: Scored[]; deadLetters: DeadLetter[] }> {
    const batch = this.send(rows);
    await waitFor(() => this.outputs.length === this.sent.length, 'the output batch');
    return { rows: this.outputs.at(-1)!.records.map((r) => r.value), deadLetters: batch.side.deadLetters };
  }
  /** Every input record came out exactly once (as a row or a dead letter), in order; every ack released once, after its output. */
  assertExactlyOnce(): { rows: number; deadLetters: number } {
    assert.equal(this.outputs.length, this.sent.length);
    let rows = 0;
    let deadLetters = 0;
    this.sent.forEach((input, b) => {
      const output = this.outputs[b]!;
      assert.equal(output.watermark, input.watermark);
      const outIds = output.records.map((r) => r.value.id);
      assert.deepEqual(outIds, [...outIds].sort((x, y) => x - y), 'rows stay in input order');
      const seen = outIds.concat(input.side.deadLetters.map((d) => Number(d.offset))).sort((x, y) => x - y);
      assert.deepEqual(seen, input.records.map((r) => r.value.id));
      rows += output.records.length;
      deadLetters += input.side.deadLetters.length;
      assert.equal(this.doneCount.get(input.acks[0]!), 1);
    });
    assert.deepEqual(this.doneBeforeEmission, []);
    return { rows, deadLetters };
  }
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(1);
  }
}

function setup(overrides: Partial<ScoreOptions<Payment, Scored>> = {}, breaker: Partial<NonNullable<ScoreOptions<Payment, Scored>['breaker']>> = {}) {
  const clock = { now: 0 };
  const model = new FlakyModel(clock);
  const metrics = new Metrics();
  const harness = new Harness(
    score<Payment, Scored>(model, {
      name: 'fraud-score',
      features: (p) => [p.amount],
      output: (p, probability) => ({ id: p.id, probability, source: 'model' }),
      fallback: (p, reason) => ({ id: p.id, probability: null, source: 'fallback', reason: reason.kind }),
      maxDelayMs: 1,
      retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
      breaker: { failureThreshold: 2, latencyBudget: 50, coolDown: 1_000, now: () => clock.now, ...breaker },
      metrics: { metrics, topology: 'card-fraud' },
      ...overrides,
    }),
  );
  const gauge = async () => (await metrics.scoringCircuitState.get()).values.find((v) => v.labels.step === 'fraud-score')?.value;
  const counter = async (name: 'scoringFallbackRows' | 'scoringCircuitOpens' | 'deadLetters') =>
    Object.fromEntries((await metrics[name].get()).values.map((v) => [String((v.labels as Record<string, unknown>).reason ?? v.labels.step), v.value]));
  return { clock, model, harness, gauge, counter };
}

const sources = (rows: Scored[]) => rows.map((r) => (r.source === 'model' ? 'model' : `fallback:${r.reason}`));

test('an outage: failed micro-batches fall back, the circuit opens and skips the model, a probe after the cool-down brings the model back', async () => {
  const { clock, model, harness, gauge, counter } = setup();
  assert.equal(await gauge(), 0);

  let out = await harness.roundTrip(3);
  assert.deepEqual(sources(out.rows), ['model', 'model', 'model']);
  assert.deepEqual(out.rows.map((r) => r.probability), [0, 0.001, 0.002].map(Math.fround));

  model.down = true;
  out = await harness.roundTrip(2); // fails after 3 attempts: the first of two consecutive failures
  assert.deepEqual(sources(out.rows), ['fallback:model-error', 'fallback:model-error']);
  assert.equal(await gauge(), 0);
  out = await harness.roundTrip(2); // the second: the circuit opens
  assert.deepEqual(sources(out.rows), ['fallback:model-error', 'fallback:model-error']);
  assert.equal(await gauge(), 2);
  assert.deepEqual(model.calls, [3, 2, 2, 2, 2, 2, 2]);

  for (let i = 0; i < 3; i++) {
    out = await harness.roundTrip(4);
    assert.deepEqual(sources(out.rows), Array(4).fill('fallback:circuit-open'));
  }
  model.down = false; // recovered, but the cool-down has not passed: still not called
  clock.now += 999;
  out = await harness.roundTrip(1);
  assert.deepEqual(sources(out.rows), ['fallback:circuit-open']);
  assert.equal(model.calls.length, 7);

  clock.now += 1;
  out = await harness.roundTrip(3); // the probe
  assert.deepEqual(sources(out.rows), ['model', 'model', 'model']);
  assert.deepEqual(model.calls.slice(7), [3]);
  assert.equal(await gauge(), 0);
  out = await harness.roundTrip(2);
  assert.deepEqual(sources(out.rows), ['model', 'model']);

  assert.deepEqual(harness.assertExactlyOnce(), { rows: 25, deadLetters: 0 });
  assert.deepEqual(await counter('scoringFallbackRows'), { 'model-error': 4, 'circuit-open': 13 });
  assert.deepEqual(await counter('scoringCircuitOpens'), { 'fraud-score': 1 });
});

test('without a fallback, rows the model could not score are dead-lettered with the step and the reason', async () => {
  const { clock, model, harness, counter } = setup({ fallback: undefined });
  model.down = true;
  let out = await harness.roundTrip(2);
  assert.deepEqual(out.rows, []);
  assert.ok(out.deadLetters.every((d) => d.step === 'fraud-score' && /failed after 3 attempt\(s\): model server unreachable/.test(d.error)), out.deadLetters[0]?.error);
  await harness.roundTrip(2); // opens
  out = await harness.roundTrip(3);
  assert.deepEqual(out.rows, []);
  assert.deepEqual(out.deadLetters.map((d) => [d.step, d.offset, d.error, d.key]), [
    ['fraud-score', '4', 'scoring unavailable (circuit open)', 'card-4'],
    ['fraud-score', '5', 'scoring unavailable (circuit open)', 'card-0'],
    ['fraud-score', '6', 'scoring unavailable (circuit open)', 'card-1'],
  ]);
  model.down = false;
  clock.now += 1_000;
  out = await harness.roundTrip(2);
  assert.deepEqual(sources(out.rows), ['model', 'model']);
  assert.deepEqual(harness.assertExactlyOnce(), { rows: 2, deadLetters: 7 });
  assert.deepEqual(await counter('deadLetters'), { 'fraud-score': 7 });
});

test('micro-batches over the latency budget open the circuit; their own scores are still used', async () => {
  const { clock, model, harness, gauge } = setup();
  model.latencyMs = 80; // budget 50
  let out = await harness.roundTrip(2);
  assert.deepEqual(sources(out.rows), ['model', 'model']);
  out = await harness.roundTrip(2);
  assert.deepEqual(sources(out.rows), ['model', 'model']);
  assert.equal(await gauge(), 2);
  out = await harness.roundTrip(2);
  assert.deepEqual(sources(out.rows), ['fallback:circuit-open', 'fallback:circuit-open']);
  assert.equal(model.calls.length, 2);
  model.latencyMs = 10;
  clock.now += 1_000;
  out = await harness.roundTrip(2);
  assert.deepEqual(sources(out.rows), ['model', 'model']);
  assert.equal(await gauge(), 0);
  assert.deepEqual(harness.assertExactlyOnce(), { rows: 8, deadLetters: 0 });
});

test('a failed probe is one attempt; the circuit re-opens for twice the cool-down', async () => {
  const { clock, model, harness } = setup();
  model.down = true;
  await harness.roundTrip(1);
  await harness.roundTrip(1);
  clock.now += 1_000;
  const callsBefore = model.calls.length;
  let out = await harness.roundTrip(2); // the probe fails
  assert.equal(model.calls.length, callsBefore + 1);
  assert.deepEqual(sources(out.rows), ['fallback:model-error', 'fallback:model-error']);
  model.down = false;
  clock.now += 1_999;
  out = await harness.roundTrip(1);
  assert.deepEqual(sources(out.rows), ['fallback:circuit-open']);
  clock.now += 1;
  out = await harness.roundTrip(1);
  assert.deepEqual(sources(out.rows), ['model']);
  harness.assertExactlyOnce();
});

test('a short answer from the model fails its micro-batch and counts against the model', async () => {
  const { model, harness, gauge } = setup();
  model.short = true;
  for (let i = 0; i < 2; i++) assert.deepEqual(sources((await harness.roundTrip(2)).rows), ['fallback:model-error', 'fallback:model-error']);
  assert.equal(await gauge(), 2);
  harness.assertExactlyOnce();
});

test('a mislabelled row or a throwing fallback goes to the dead letters', async () => {
  const { model, harness } = setup({
    output: (p, probability) => ({ id: p.id, probability, source: p.id === 1 ? 'fallback' : 'model' }),
    fallback: (p) => {
      if (p.id === 3) throw new Error('lookup failed');
      return p.id === 4 ? undefined : ({ id: p.id, probability: null, source: p.id === 5 ? ('model' as never) : 'fallback' });
    },
  });
  let out = await harness.roundTrip(3);
  assert.deepEqual(out.rows.map((r) => r.id), [0, 2]);
  assert.match(out.deadLetters[0]!.error, /^output: the row says source="fallback", but a row scored by the model must say source: 'model'$/);
  model.down = true;
  out = await harness.roundTrip(3);
  assert.deepEqual(out.rows, []);
  assert.deepEqual(out.deadLetters.map((d) => d.offset), ['3', '4', '5']);
  assert.match(out.deadLetters[0]!.error, /^fallback: lookup failed \(scoring: .*model server unreachable\)$/);
  assert.match(out.deadLetters[1]!.error, /failed after 3 attempt\(s\)/);
  assert.match(out.deadLetters[2]!.error, /^fallback: the row says source="model"/);
  harness.assertExactlyOnce();
});

test('a fallback row must be marked: checked by the compiler', () => {
  const model = new FlakyModel({ now: 0 });
  const features = (p: Payment) => [p.amount];
  const unmarked = (p: Payment, probability: number) => ({ id: p.id, probability });
  // @ts-expect-error a fallback row cannot claim to come from the model
  score<Payment, Scored>(model, { features, output: (p, probability) => ({ id: p.id, probability, source: 'model' }), fallback: (p) => ({ id: p.id, probability: 0, source: 'model' }) });
  // @ts-expect-error an output type without a source field admits no fallback row
  score(model, { features, output: unmarked, fallback: (p) => ({ id: p.id, probability: 0 }) });
  // @ts-expect-error marking the fallback row alone is not enough: model rows would be unmarked
  score(model, { features, output: unmarked, fallback: (p) => ({ id: p.id, probability: 0, source: 'fallback' }) });
  // With U inferred from `output`, the fallback's literal source is kept.
  score(model, { features, output: (p, probability): Scored => ({ id: p.id, probability, source: 'model' }), fallback: (p) => ({ id: p.id, probability: null, source: 'fallback' }) });
  // Without a source field, a fallback may still dead-letter explicitly.
  score(model, { features, output: unmarked, fallback: () => undefined });
});

test('random outages and latency over many batches: every record comes out exactly once, in order, acks after output', async () => {
  const random = seededRandom(2024);
  const { clock, model, harness } = setup({ maxBatchRows: 16, maxDelayMs: 2 }, { failureThreshold: 3, coolDown: 200 });
  for (let i = 0; i < 300; i++) {
    const r = random();
    if (r < 0.05) model.down = !model.down;
    model.latencyMs = random() < 0.1 ? 60 : 0;
    clock.now += Math.floor(random() * 40);
    harness.send(Math.floor(random() * 12));
    if (random() < 0.2) await tick(Math.floor(random() * 3));
  }
  harness.input.complete();
  await waitFor(() => harness.outputs.length === harness.sent.length, 'every output');
  const { rows, deadLetters } = harness.assertExactlyOnce();
  assert.equal(deadLetters, 0);
  assert.equal(rows, harness.sent.reduce((n, b) => n + b.records.length, 0));
  const all = harness.outputs.flatMap((b) => b.records.map((r) => r.value));
  for (const row of all) assert.equal(row.probability, row.source === 'model' ? Math.fround((row.id % 1000) / 1000) : null);
  const reasons = new Set(sources(all));
  assert.deepEqual([...reasons].sort(), ['fallback:circuit-open', 'fallback:model-error', 'model']);
});
