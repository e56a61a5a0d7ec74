import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runWithRestarts, sourceBatches, withFreshClockFrom } from '../../helpers/restart-harness.ts';
import { statefulPipeline } from '../../helpers/stateful-pipeline.ts';
import { randomEventLists } from '../../helpers/window-property.ts';

const setups = fc.record({
  events: randomEventLists({ keys: ['a', 'b', 'c'], step: fc.integer({ min: 0, max: 3 }), behind: fc.integer({ min: 0, max: 8 }), maxLength: 120 }),
  shape: fc.record({ size: fc.constantFrom(500, 1_000, 2_000), grace: fc.constantFrom(0, 250, 500, 1_000), gap: fc.constantFrom(250, 500, 1_000) }),
  outOfOrderness: fc.constantFrom(0, 250, 500, 1_000),
  batchSize: fc.integer({ min: 1, max: 8 }),
  /** Where to restart, as fractions of the batches (1 to 3 restarts). */
  restarts: fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 3 }),
  /** Restart with a clock that was not checkpointed (watermarks start again from nothing). */
  freshClock: fc.boolean(),
});

test('property: restarting from checkpoints at random batches gives the rows and late records of one uninterrupted run', () => {
  fc.assert(
    fc.property(setups, (setup) => {
      const batches = sourceBatches(setup.events, (e) => e.t, { batchSize: setup.batchSize, outOfOrderness: setup.outOfOrderness });
      const restartAt = [...new Set(setup.restarts.map((f) => 1 + Math.floor(f * (batches.length - 1))))].sort((a, b) => a - b);
      const pipeline = statefulPipeline(setup.shape);
      const uninterrupted = runWithRestarts(pipeline, batches);
      const input = setup.freshClock ? withFreshClockFrom(batches, restartAt[0]!, setup.outOfOrderness) : batches;
      const restarted = runWithRestarts(pipeline, input, restartAt);
      assert.equal(restarted.error, null);
      assert.deepEqual(restarted.outputs, uninterrupted.outputs);
      assert.deepEqual(restarted.late, uninterrupted.late);
      assert.deepEqual(restarted.deadLetters, []);
      assert.ok(restarted.unclaimed.every((names) => names.length === 0), 'every checkpointed step was claimed');
      assert.ok(restarted.doneAfterPass.every(Boolean), 'no step kept an ack token');
    }),
    { numRuns: 100 },
  );
});
