import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import { ConfigError } from '../../../src/core/errors.ts';
import { accumulatorsFromState, accumulatorsToState, type Aggregation } from '../../../src/operators/windows/aggregations.ts';
import { approxDistinct, quantiles } from '../../../src/operators/windows/sketch-aggregations.ts';
import { everyAggregation } from '../../helpers/stateful-pipeline.ts';
import type { Event } from '../../helpers/window-property.ts';

type Agg = Aggregation<Event, unknown, unknown>;
const aggs: Agg[] = [...Object.values(everyAggregation()), approxDistinct((e: Event) => e.v), quantiles((e: Event) => e.v, [0.01, 0.5, 0.99], { relativeAccuracy: 0.05 })] as Agg[];

const fold = (values: readonly Event[]): unknown[] => aggs.map((agg) => values.reduce((acc, e) => agg.add(acc, e, e.t), agg.init()));
const results = (states: readonly unknown[]) => aggs.map((agg, i) => agg.result(states[i]));
/** Through a checkpoint: toState, v8 serialize and deserialize (maybe another process), fromState. */
const throughCheckpoint = (states: unknown[]): unknown[] => accumulatorsFromState(aggs, deserialize(serialize(accumulatorsToState(aggs, states))) as unknown[]);
const merged = (a: unknown[], b: readonly unknown[]) => a.map((acc, i) => aggs[i]!.merge(acc, b[i]));
/** Every field of each accumulator (sketch bins, counts, min/max/sum included), as data. */
const fields = (states: readonly unknown[]) => deserialize(serialize(accumulatorsToState(aggs, states.slice())));

/** Values of both signs, zeros (1e-320 too: below the sketch's smallest bin) and fractions; magnitudes from 1e-3 keep sketches small. */
const events = fc.array(
  fc.record({ k: fc.constant('a'), t: fc.integer({ min: 0, max: 10_000 }), v: fc.oneof(fc.integer({ min: -50, max: 50 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((x) => (Math.abs(x) < 1e-3 ? -0 : x)), fc.constantFrom(0, 1e-320, 123.456)) }),
  { maxLength: 60 },
);

test('every accumulator comes back from a checkpoint with the same result, and keeps adding and merging as the original', () => {
  fc.assert(
    fc.property(events, events, events, (before, after, other) => {
      const original = fold(before);
      const restored = throughCheckpoint(fold(before));
      assert.deepEqual(results(restored), results(original));
      assert.deepEqual(fields(restored), fields(original));
      // Adding after the restore.
      for (const e of after) {
        aggs.forEach((agg, i) => {
          original[i] = agg.add(original[i], e, e.t);
          restored[i] = agg.add(restored[i], e, e.t);
        });
      }
      assert.deepEqual(results(restored), results(original));
      // As either side of a merge, and merged into an empty accumulator.
      assert.deepEqual(results(merged(fold(other), throughCheckpoint(fold(before)))), results(merged(fold(other), fold(before))));
      assert.deepEqual(results(merged(throughCheckpoint(fold(before)), fold(other))), results(merged(fold(before), fold(other))));
      assert.deepEqual(fields(merged(throughCheckpoint(fold(before)), fold(other))), fields(merged(fold(before), fold(other))));
      assert.deepEqual(results(merged(fold([]), throughCheckpoint(fold(before)))), results(fold(before)));
      assert.deepEqual(results(merged(throughCheckpoint(fold([])), throughCheckpoint(fold(other)))), results(fold(other)));
    }),
    { numRuns: 150 },
  );
});

test('a restored DDSketch keeps count, sum, min and max (which DDSketch.fromProto would lose) and its bin layout', () => {
  const agg = quantiles((x: number) => x, [0, 0.5, 1]);
  let sketch = agg.init();
  for (const x of [-3, -0.5, 0, 0, 2, 7.5, 1_000]) sketch = agg.add(sketch, x, 0);
  const restored = agg.fromState!(deserialize(serialize(agg.toState!(sketch))));
  assert.equal(restored.count, 7);
  assert.equal(restored.sum, sketch.sum);
  assert.equal(restored.min, -3);
  assert.equal(restored.max, 1_000);
  assert.equal(restored.zeroCount, 2);
  assert.deepEqual(restored.store.bins, sketch.store.bins);
  assert.equal(restored.store.offset, sketch.store.offset);
  assert.deepEqual(agg.result(restored), agg.result(sketch));
  assert.ok(restored.store.bins !== sketch.store.bins && typeof restored.accept === 'function', 'a DDSketch of its own');
});

test('restoring sketches made with other settings fails loudly instead of mixing bins or registers', () => {
  const coarse = quantiles((x: number) => x, [0.5], { relativeAccuracy: 0.05 });
  const fine = quantiles((x: number) => x, [0.5], { relativeAccuracy: 0.01 });
  const saved = deserialize(serialize(coarse.toState!(coarse.add(coarse.init(), 5, 0))));
  assert.throws(() => fine.fromState!(saved), (e: unknown) => e instanceof ConfigError && e.field === 'quantiles.relativeAccuracy');
  const registers = deserialize(serialize(approxDistinct((x: string) => x, { precision: 6 }).init()));
  assert.throws(() => approxDistinct((x: string) => x, { precision: 8 }).fromState!(registers), (e: unknown) => e instanceof ConfigError && e.field === 'approxDistinct.precision');
});

test('restored HyperLogLog registers are their own copy, not a view keeping the whole checkpoint buffer alive', () => {
  const agg = approxDistinct((x: string) => x, { precision: 4 });
  const checkpoint = deserialize(serialize({ other: new Uint8Array(100_000), registers: agg.add(agg.init(), 'x', 0) })) as { registers: Uint8Array };
  assert.ok(checkpoint.registers.buffer.byteLength > 100_000, 'v8 hands back a view into the checkpoint');
  const restored = agg.fromState!(checkpoint.registers);
  assert.equal(restored.buffer.byteLength, 16);
  assert.equal(agg.result(restored), 1);
});
