import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultRun, PARTITIONS } from '../helpers/fault-run.ts';
import { waitFor } from '../helpers/services.ts';

test('fault: the Kafka broker restarts mid-stream; the consumer reconnects and continues; exact results', { timeout: 400_000 }, async (t) => {
  const run = await FaultRun.start(t, { events: 20_000, seed: 31 });
  const engine = await run.startEngine();
  await run.send(0, 10_000);
  await waitFor('the first part processed', async () => engine.stats().processedRecords, (n) => n >= 10_000, 60_000);
  const restartStarted = performance.now();
  const restart = run.services.restart('kafka', 5);
  await waitFor('the broker down', () => run.services.reachable('kafka'), (up) => !up, 60_000);
  await restart;
  const restartSeconds = (performance.now() - restartStarted) / 1000;
  await run.send(10_000, run.payments.length);
  await run.sendWatermarkEvents();
  const recoverySeconds = await run.waitForResults();
  await run.assertExactResults();
  // The restart was really hit: the broker was seen down (above) while the engine's consumer was
  // connected, and every record produced after it came back was read by that same consumer.
  const total = async (counter: typeof engine.metrics.commitFailures) => (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
  const commitFailures = await total(engine.metrics.commitFailures);
  const groupJoins = await total(engine.metrics.groupJoins);
  assert.equal(engine.stats().processedRecords, run.payments.length + PARTITIONS, 'the second half (after the restart) was consumed too');
  console.log(`[fault] kafka restart (${restartSeconds.toFixed(1)} s incl. 5 s down): all results ${recoverySeconds.toFixed(1)} s after the rest was produced; peak RSS ${run.peakRssMiB.toFixed(0)} MiB; failed commits ${commitFailures}, group joins ${groupJoins}`);
});
