import { test } from 'node:test';
import assert from 'node:assert/strict';
import { config as rxConfig } from 'rxjs';
import type { Observable } from 'rxjs';
import type { Batch } from '../../../src/core/batch.ts';
import { ConfigError, StateLimitError } from '../../../src/core/errors.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { filter } from '../../../src/operators/filter.ts';
import { intervalJoin } from '../../../src/operators/interval-join.ts';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { count, sum } from '../../../src/operators/windows/aggregations.ts';
import { sessionWindows } from '../../../src/operators/windows/session.ts';
import { sliding } from '../../../src/operators/windows/sliding.ts';
import { tumbling } from '../../../src/operators/windows/tumbling.ts';
import { runWithRestarts, sourceBatches, withFreshClockFrom, type Outputs, type RestartRun } from '../../helpers/restart-harness.ts';
import { statefulPipeline } from '../../helpers/stateful-pipeline.ts';
import type { Event } from '../../helpers/window-property.ts';

const at = (k: string, t: number, v = 1): Event => ({ k, t, v });
const batchesOf = (events: readonly Event[], batchSize = 1, outOfOrderness = 0) => sourceBatches(events, (e) => e.t, { batchSize, outOfOrderness });

/** A fixed disordered stream: 60 events over 3 keys, each up to 1.5 s behind the front. */
function disorderedEvents(): Event[] {
  let seed = 7;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const events: Event[] = [];
  let now = 1_700_000_000_000;
  for (let i = 0; i < 60; i++) {
    now += Math.floor(next() * 3) * 250;
    events.push(at('abc'[Math.floor(next() * 3)]!, now - Math.floor(next() * 7) * 250, Math.floor(next() * 41) - 20));
  }
  return events;
}

function assertSameRun(actual: RestartRun, expected: RestartRun, message: string): void {
  assert.equal(actual.error, null, message);
  assert.deepEqual(actual.outputs, expected.outputs, message);
  assert.deepEqual(actual.late, expected.late, message);
  assert.deepEqual(actual.deadLetters, expected.deadLetters, message);
}

for (const [shape, outOfOrderness] of [[{ size: 1_000, grace: 500, gap: 750 }, 500], [{ size: 1_000, grace: 0, gap: 500 }, 250]] as const) {
  test(`every stateful step continues from a checkpoint taken at any batch boundary exactly as if never restarted (grace ${shape.grace})`, () => {
    const batches = batchesOf(disorderedEvents(), 3, outOfOrderness);
    const pipeline = statefulPipeline(shape);
    const uninterrupted = runWithRestarts(pipeline, batches);
    const plain = runWithRestarts(pipeline, batches, [], { registry: false });
    assertSameRun(uninterrupted, plain, 'durable state changes no output');
    for (const name of Object.keys(uninterrupted.outputs)) assert.ok(uninterrupted.outputs[name]!.flat().length > 0, `${name} emitted rows`);
    assert.ok(uninterrupted.late.flat().length > 0, 'some records are late');
    const openWindows = (restartAt: number[]) => {
      const counts: Record<string, number[]> = {};
      runWithRestarts(pipeline, batches, restartAt, { onOpenWindows: (step, n) => (counts[step] ??= []).push(n) });
      return counts;
    };
    const expectedCounts = openWindows([]);
    for (let split = 1; split < batches.length; split++) {
      const restarted = runWithRestarts(pipeline, batches, [split]);
      assertSameRun(restarted, uninterrupted, `restart before batch ${split}`);
      assert.deepEqual(restarted.unclaimed, [[], []], 'every checkpointed step was claimed');
      assert.deepEqual(openWindows([split]), expectedCounts, `open windows after a restart before batch ${split}`);
    }
    assertSameRun(runWithRestarts(pipeline, batches, [2, 5, 6, 11, 17]), uninterrupted, 'several restarts');
  });
}

test('steps keep their own watermark: a restart whose clock starts again from nothing changes no row', () => {
  const batches = batchesOf(disorderedEvents(), 2, 1_500);
  const pipeline = statefulPipeline();
  const uninterrupted = runWithRestarts(pipeline, batches);
  for (const split of [3, 10, 20]) {
    const restarted = runWithRestarts(pipeline, withFreshClockFrom(batches, split, 1_500), [split]);
    assert.equal(restarted.error, null);
    assert.deepEqual(restarted.outputs, uninterrupted.outputs, `restart before batch ${split}`);
    assert.deepEqual(restarted.late, uninterrupted.late, `restart before batch ${split}`);
  }
});

test('session: a record arriving after the restart bridges two checkpointed sessions into one', () => {
  const events = [at('a', 0, 1), at('a', 2_000, 2), at('b', 500, 4), at('a', 1_000, 8), at('a', 9_000, 16)];
  const pipeline = (input: Observable<Batch<Event>>): Outputs => ({ s: input.pipe(keyBy((e) => e.k), sessionWindows({ gap: 1_500 }, { n: count(), total: sum((e: Event) => e.v) })) });
  const batches = batchesOf(events, 1, 5_000);
  const uninterrupted = runWithRestarts(pipeline, batches);
  const restarted = runWithRestarts(pipeline, batches, [3]);
  assertSameRun(restarted, uninterrupted, 'restart before the bridging record');
  assert.deepEqual(restarted.outputs.s!.flat(), [
    { key: 'b', windowStart: 500, windowEnd: 2_000, n: 1, total: 4 },
    { key: 'a', windowStart: 0, windowEnd: 3_500, n: 3, total: 11 },
    { key: 'a', windowStart: 9_000, windowEnd: 10_500, n: 1, total: 16 },
  ]);
});

test('interval join: a left record buffered before the restart matches after it, and an unmatched one comes out once', () => {
  const events = [at('a', 0, 2), at('b', 100, 4), at('c', 200, 6), at('a', 400, 1), at('c', 900, 3), at('d', 5_000, 0)];
  const pipeline = (input: Observable<Batch<Event>>): Outputs => {
    const left = input.pipe(filter((e) => e.v % 2 === 0), keyBy((e) => e.k));
    const right = input.pipe(filter((e) => e.v % 2 !== 0), keyBy((e) => e.k));
    return { j: intervalJoin(left, right, { within: 500, grace: 1_000, type: 'left', combine: (l, r) => `${l.k}${l.v}+${r?.v ?? '-'}` }) };
  };
  const batches = batchesOf(events, 1);
  const uninterrupted = runWithRestarts(pipeline, batches);
  assert.deepEqual(uninterrupted.outputs.j!.flat(), ['a2+1', 'b4+-', 'c6+-', 'd0+-']);
  for (let split = 1; split < batches.length; split++) assertSameRun(runWithRestarts(pipeline, batches, [split]), uninterrupted, `restart before batch ${split}`);
});

test('with durable state no step keeps an ack token: each is done as soon as its batch has passed', () => {
  const batches = batchesOf(disorderedEvents(), 4, 1_000);
  const durable = runWithRestarts(statefulPipeline(), batches, [5]);
  assert.ok(durable.doneAfterPass.every(Boolean), `tokens not done: ${durable.doneAfterPass.flatMap((done, i) => (done ? [] : [i]))}`);
  // Without durability the open windows hold them, until everything closed at the end.
  for (const run of [runWithRestarts(statefulPipeline(), batches, [], { durable: false }), runWithRestarts(statefulPipeline(), batches, [], { registry: false })]) {
    assert.ok(run.doneAfterPass.some((done) => !done));
    assert.ok(run.tokens.every((token) => token.done));
  }
});

/** Counts each step reports after each batch, from events a@0, b@0, a@1000, c@3000 (values: join sides). */
function reportedCounts(pipeline: (input: Observable<Batch<Event>>) => Outputs, events: Event[]): Record<string, number[]> {
  const counts: Record<string, number[]> = {};
  const run = runWithRestarts(pipeline, batchesOf(events), [], { onOpenWindows: (step, n) => (counts[step] ??= []).push(n) });
  assert.equal(run.error, null);
  return counts;
}

test('checkOpenWindows gets each step\'s open windows after each batch\'s records (before closing)', () => {
  const events = [at('a', 0, 2), at('b', 0, 4), at('a', 1_000, 6), at('c', 3_000, 8)];
  const windows = (input: Observable<Batch<Event>>): Outputs => {
    const keyed = input.pipe(keyBy((e) => e.k));
    return {
      t: keyed.pipe(tumbling(1_000), aggregate({ n: count() })),
      s: keyed.pipe(sessionWindows({ gap: 500 }, { n: count() })),
      w: keyed.pipe(sliding({ size: 1_000 }, { n: count() })),
    };
  };
  // Closing batch (watermark +Infinity) last: its records are none, so it reports what was open.
  assert.deepEqual(reportedCounts(windows, events), { 'tumbling-1000ms': [1, 2, 3, 2, 1], 'session-500ms': [1, 2, 3, 2, 1], 'sliding-1000ms': [1, 2, 3, 3, 1] });
  const join = (input: Observable<Batch<Event>>): Outputs => ({
    j: intervalJoin(input.pipe(filter((e) => e.v % 2 === 0), keyBy((e) => e.k)), input.pipe(filter((e) => e.v % 2 !== 0), keyBy((e) => e.k)), { within: 500, combine: (l) => l }),
  });
  assert.deepEqual(reportedCounts(join, [at('a', 0, 2), at('a', 100, 1), at('b', 1_000, 4), at('c', 3_000, 3)]), { 'interval-join': [1, 2, 3, 2, 1] });
});

function assertLimitError(error: unknown, step: string): void {
  assert.ok(error instanceof StateLimitError, String(error));
  assert.equal(error.step, step);
  assert.match(error.message, new RegExp(`step ${step}: 3 open windows exceed the bound of 2 \\(TRIBUTARY_MAX_OPEN_WINDOWS\\)`));
}

test('past maxOpenWindows a session, sliding or join step errors its output, naming the step and TRIBUTARY_MAX_OPEN_WINDOWS', () => {
  const events = [at('a', 0, 2), at('b', 0, 1), at('c', 0, 4), at('d', 0, 3), at('e', 0, 6), at('f', 0, 5)];
  const steps: Record<string, (input: Observable<Batch<Event>>) => Observable<Batch<unknown>>> = {
    'session-500ms': (input) => input.pipe(keyBy((e) => e.k), sessionWindows({ gap: 500 }, { n: count() })),
    'sliding-1000ms': (input) => input.pipe(keyBy((e) => e.k), sliding({ size: 1_000 }, { n: count() })),
    'interval-join': (input) => intervalJoin(input.pipe(filter((e) => e.v % 2 === 0), keyBy((e) => e.k)), input.pipe(filter((e) => e.v % 2 !== 0), keyBy((e) => e.k)), { within: 500, combine: (l) => l }),
  };
  for (const [step, build] of Object.entries(steps)) {
    const run = runWithRestarts((input) => ({ out: build(input) }), batchesOf(step === 'interval-join' ? events : events.slice(0, 3), 3), [], { maxOpenWindows: 2 });
    assert.equal(run.error?.batch, 0, step);
    assertLimitError(run.error!.error, step);
    assert.ok(run.outputs.out!.every((rows) => rows.length === 0), `${step} emits nothing after the error`);
  }
});

test('past maxOpenWindows a tumbling aggregate stops with the same error', async () => {
  const reported: unknown[] = [];
  const previous = rxConfig.onUnhandledError;
  rxConfig.onUnhandledError = (error) => reported.push(error);
  try {
    const run = runWithRestarts((input) => ({ out: input.pipe(keyBy((e) => e.k), tumbling(1_000), aggregate({ n: count() })) }), batchesOf([at('a', 0), at('b', 0), at('c', 0)], 3), [], { maxOpenWindows: 2 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const error = run.error?.error ?? reported[0];
    assertLimitError(error, 'tumbling-1000ms');
  } finally {
    rxConfig.onUnhandledError = previous;
  }
});

test('two stateful steps with one name are refused on the first batch (their checkpointed state would mix)', () => {
  const pipeline = (input: Observable<Batch<Event>>): Outputs => ({
    a: input.pipe(keyBy((e) => e.k), sessionWindows({ gap: 500, name: 'visits' }, { n: count() })),
    b: input.pipe(keyBy((e) => e.k), sliding({ size: 500, name: 'visits' }, { n: count() })),
  });
  const run = runWithRestarts(pipeline, batchesOf([at('a', 0), at('a', 1)]));
  assert.equal(run.error?.batch, 0);
  assert.ok(run.error!.error instanceof ConfigError);
  assert.match(run.error!.error.message, /visits.*two stateful steps have the same name/);
});

test('a checkpoint carries each step under its name and a restored registry hands it back once', () => {
  const batches = batchesOf([at('a', 0), at('b', 100), at('a', 200)], 1, 10_000);
  const pipeline = statefulPipeline();
  const run = runWithRestarts(pipeline, batches, [2]);
  assert.equal(run.checkpointBytes.length, 1);
  assert.ok(run.checkpointBytes[0]! > 0);
  assert.deepEqual(run.unclaimed, [[], []]);
  const names = new Set<string>();
  runWithRestarts(pipeline, batches.slice(0, 1), [], { onOpenWindows: (step) => names.add(step) });
  assert.deepEqual([...names].sort(), ['current', 'hopping-2000ms-every-500ms', 'inner', 'lateness', 'left-join', 'session-750ms', 'sliding-1000ms', 'tumbling-1000ms']);
});
