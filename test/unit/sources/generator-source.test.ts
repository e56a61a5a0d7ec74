import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generatorSource, type GeneratorOptions } from '../../../src/sources/generator/generator-source.ts';
import type { Source, SourceBatch, SourceContext, SourceEnvironment } from '../../../src/sources/source.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { Metrics } from '../../../src/observability/metrics.ts';

interface Tick {
  seq: number;
  t: number;
}

const START = 1_700_000_000_000;

function environment(maxChunkRecords: number): SourceEnvironment {
  return { topology: 'gen-test', logger: silentLogger, metrics: new Metrics(), schemasDir: 'schemas', groupId: 'g', commitIntervalMs: 1_000, maxChunkRecords };
}

/** A fake engine side: records every call and resolves `finished` on end() or fail(). */
function fakeContext(onPush?: (batch: SourceBatch<Tick>, pushes: number) => Promise<void> | void) {
  const calls: string[] = [];
  const pushed: SourceBatch<Tick>[] = [];
  const failures: unknown[] = [];
  const assignments: string[][] = [];
  let concurrentPushes = 0;
  let maxConcurrentPushes = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const context: SourceContext<Tick> = {
    logger: silentLogger,
    metrics: new Metrics(),
    topology: 'gen-test',
    async push(batch) {
      calls.push('push');
      pushed.push(batch);
      concurrentPushes++;
      maxConcurrentPushes = Math.max(maxConcurrentPushes, concurrentPushes);
      try {
        await onPush?.(batch, pushed.length);
      } finally {
        concurrentPushes--;
      }
    },
    assigned(keys) {
      calls.push('assigned');
      assignments.push([...keys]);
    },
    fail(error) {
      calls.push('fail');
      failures.push(error);
      finish();
    },
    end() {
      calls.push('end');
      finish();
    },
  };
  return { context, calls, pushed, failures, assignments, finished, maxConcurrent: () => maxConcurrentPushes };
}

/** A counter event factory; `factories` counts how often `events` was called. */
function ticks() {
  const state = { factories: 0, nominal: [] as number[] };
  const events = () => {
    state.factories++;
    let seq = 0;
    return {
      next(nominalTime: number): Tick {
        state.nominal.push(nominalTime);
        return { seq: seq++, t: nominalTime - (seq % 3) * 7 }; // slightly out of order
      },
    };
  };
  return { state, events };
}

function spec(overrides: Partial<GeneratorOptions<Tick>> = {}) {
  const { state, events } = ticks();
  const options: GeneratorOptions<Tick> = { name: 'ticks', events, eventTime: (e) => e.t, eventsPerSecond: 1_000, pace: 'max', startTime: START, ...overrides };
  return { state, sourceSpec: generatorSource(options) };
}

test('the spec describes the source and converts its out-of-orderness', () => {
  const { sourceSpec } = spec({ eventsPerSecond: 200 });
  assert.equal(sourceSpec.description, 'generator ticks at 200/s');
  assert.equal(sourceSpec.outOfOrdernessMs, 5_000, 'default 5s');
  assert.equal(spec({ outOfOrderness: '750ms' }).sourceSpec.outOfOrdernessMs, 750);
  assert.equal(spec({ outOfOrderness: 1_200 }).sourceSpec.outOfOrdernessMs, 1_200);
  assert.equal(sourceSpec.eventTime({ seq: 0, t: 123 }), 123);
  assert.equal(generatorSource({ events: ticks().events, eventTime: (e: Tick) => e.t, eventsPerSecond: 1 }).description, 'generator events at 1/s');
});

test('a non-positive rate or a bad duration is a ConfigError naming the setting', () => {
  for (const eventsPerSecond of [0, -5, Number.NaN]) {
    assert.throws(() => spec({ eventsPerSecond }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.field, 'demoSource.eventsPerSecond');
      return true;
    });
  }
  assert.throws(() => spec({ outOfOrderness: 'soon' }), { name: 'ConfigError', field: 'demoSource.outOfOrderness' });
});

test('pace max with a limit: exactly `limit` records in chunks, offsets in order, then end()', async () => {
  const { state, sourceSpec } = spec({ limit: 50 });
  const source: Source<Tick> = sourceSpec.create(environment(7));
  assert.equal(source.description, 'generator ticks');
  const fake = fakeContext();
  await source.start(fake.context);
  await fake.finished;
  await source.stop();

  assert.deepEqual(fake.assignments, [['generator:0']]);
  assert.equal(fake.calls[0], 'assigned', 'the partition is assigned before the first push');
  assert.equal(fake.calls.at(-1), 'end');
  assert.equal(fake.calls.filter((c) => c === 'end').length, 1);
  assert.deepEqual(fake.failures, []);
  assert.equal(state.factories, 1, 'one event factory per source instance');

  assert.deepEqual(fake.pushed.map((b) => b.records.length), [7, 7, 7, 7, 7, 7, 7, 1]);
  const records = fake.pushed.flatMap((b) => b.records);
  assert.equal(records.length, 50);
  assert.deepEqual(records.map((r) => r.offset), Array.from({ length: 50 }, (_, i) => String(i)));
  assert.deepEqual(records.map((r) => r.value.seq), Array.from({ length: 50 }, (_, i) => i));
  // Nominal time starts at startTime and advances by 1000 / eventsPerSecond per event.
  assert.deepEqual(state.nominal, Array.from({ length: 50 }, (_, i) => START + i));
  for (const r of records) {
    assert.equal(r.eventTime, r.value.t);
    assert.equal(r.key, '');
    assert.equal(r.topic, 'generator');
    assert.equal(r.partition, 0);
  }
  let first = 0;
  for (const batch of fake.pushed) {
    assert.equal(batch.partitionKey, 'generator:0');
    assert.deepEqual(batch.deadLetters, []);
    assert.equal(batch.maxEventTime, Math.max(...batch.records.map((r) => r.eventTime)));
    assert.equal(batch.token.partitionKey, 'generator:0');
    assert.equal(batch.token.recordCount, batch.records.length);
    assert.equal(batch.token.lastOffset, BigInt(first + batch.records.length - 1));
    assert.equal(batch.token.done, false, 'the engine releases the source reference');
    batch.token.release();
    first += batch.records.length;
  }
});

test('a limit that is a multiple of the chunk size gives full chunks only', async () => {
  const { sourceSpec } = spec({ limit: 30 });
  const source = sourceSpec.create(environment(10));
  const fake = fakeContext();
  await source.start(fake.context);
  await fake.finished;
  assert.deepEqual(fake.pushed.map((b) => b.records.length), [10, 10, 10]);
  assert.equal(fake.calls.at(-1), 'end');
});

test('a chunk size larger than the limit gives one batch', async () => {
  const { sourceSpec } = spec({ limit: 3 });
  const fake = fakeContext();
  await sourceSpec.create(environment(1_000)).start(fake.context);
  await fake.finished;
  assert.deepEqual(fake.pushed.map((b) => b.records.map((r) => r.offset)), [['0', '1', '2']]);
});

test('the generator waits for each push before producing the next chunk (backpressure)', async () => {
  const { sourceSpec } = spec({ limit: 40 });
  const releases: Array<() => void> = [];
  const fake = fakeContext(() => new Promise<void>((resolve) => releases.push(resolve)));
  await sourceSpec.create(environment(8)).start(fake.context);
  for (let chunk = 1; chunk <= 5; chunk++) {
    while (releases.length < chunk) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fake.pushed.length, chunk, 'no further chunk while the previous push waits');
    releases[chunk - 1]!();
  }
  await fake.finished;
  assert.equal(fake.maxConcurrent(), 1);
  assert.equal(fake.pushed.length, 5);
});

test('stop ends an unbounded generator without calling end()', async () => {
  const { sourceSpec } = spec({});
  const source = sourceSpec.create(environment(5));
  let stopping: Promise<void> | undefined;
  const fake = fakeContext((_batch, pushes) => {
    if (pushes === 4) stopping = source.stop();
  });
  await source.start(fake.context);
  while (stopping === undefined) await new Promise((resolve) => setImmediate(resolve));
  await stopping;
  assert.equal(fake.pushed.length, 4);
  assert.deepEqual(fake.calls.filter((c) => c !== 'push'), ['assigned']);
  assert.deepEqual(fake.pushed.flatMap((b) => b.records).map((r) => r.offset), Array.from({ length: 20 }, (_, i) => String(i)));
});

test('an event factory that throws fails the source through the context', async () => {
  const boom = new Error('factory broke');
  const source = generatorSource<Tick>({
    events: () => ({
      next(nominalTime) {
        if (nominalTime >= START + 12) throw boom;
        return { seq: 0, t: nominalTime };
      },
    }),
    eventTime: (e) => e.t,
    eventsPerSecond: 1_000,
    pace: 'max',
    startTime: START,
    limit: 100,
  }).create(environment(5));
  const fake = fakeContext();
  await source.start(fake.context);
  await fake.finished;
  assert.deepEqual(fake.failures, [boom]);
  assert.equal(fake.calls.includes('end'), false);
  assert.deepEqual(fake.pushed.map((b) => b.records.length), [5, 5], 'the chunk being built when it threw is not pushed');
  await source.stop();
});

test('a failing push fails the source', async () => {
  const rejected = new Error('engine stopped');
  const { sourceSpec } = spec({ limit: 100 });
  const fake = fakeContext((_batch, pushes) => {
    if (pushes === 2) throw rejected;
  });
  const source = sourceSpec.create(environment(10));
  await source.start(fake.context);
  await fake.finished;
  assert.deepEqual(fake.failures, [rejected]);
  assert.equal(fake.pushed.length, 2);
});

test('realtime pace starting behind the clock catches up and delivers a bounded run in order', async () => {
  const { state, sourceSpec } = spec({ pace: 'realtime', startTime: undefined, startBehind: '1h', speedup: 100_000, batchIntervalMs: 1, limit: 25 });
  const before = Date.now();
  const fake = fakeContext();
  const source = sourceSpec.create(environment(10));
  await source.start(fake.context);
  await fake.finished;
  const records = fake.pushed.flatMap((b) => b.records);
  assert.deepEqual(records.map((r) => r.offset), Array.from({ length: 25 }, (_, i) => String(i)));
  assert.ok(fake.pushed.every((b) => b.records.length <= 10));
  assert.equal(fake.calls.at(-1), 'end');
  // Event time starts an hour behind the wall clock and advances 1 ms per event.
  const after = Date.now();
  assert.ok(state.nominal[0]! >= before - 3_600_000 && state.nominal[0]! <= after - 3_600_000, String(state.nominal[0]! - before));
  state.nominal.forEach((t, i) => assert.equal(t, state.nominal[0]! + i));
  await source.stop();
  await source.commit();
  await source.close();
});

test('an event whose event time is not a finite number is dead-lettered, the others delivered', async () => {
  const { sourceSpec } = spec({ limit: 9, eventTime: (e) => (e.seq % 3 === 1 ? Number.NaN : e.t) });
  const source = sourceSpec.create(environment(4));
  const fake = fakeContext();
  await source.start(fake.context);
  await fake.finished;
  await source.stop();
  const delivered = fake.pushed.flatMap((b) => b.records.map((r) => r.offset));
  const dead = fake.pushed.flatMap((b) => b.deadLetters);
  assert.deepEqual(delivered, ['0', '2', '3', '5', '6', '8']);
  assert.deepEqual(dead.map((d) => [d.offset, d.step]), [['1', 'event-time'], ['4', 'event-time'], ['7', 'event-time']]);
  assert.equal(dead[0]!.error, 'event time is NaN, not a number of epoch milliseconds');
  assert.ok(fake.pushed.every((b) => Number.isFinite(b.maxEventTime)));
});
