import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultRun } from '../helpers/fault-run.ts';
import { waitFor } from '../helpers/services.ts';

test('fault: Redis down for 20 s mid-stream; the engine degrades (online state stale, checkpoints wait) and recovers; exact results', { timeout: 400_000 }, async (t) => {
  const run = await FaultRun.start(t, { events: 20_000, seed: 29 });
  const engine = await run.startEngine();
  await run.send(0, 8_000);
  await waitFor('the first part processed', async () => engine.stats().processedRecords, (n) => n >= 8_000, 60_000);

  const outage = run.services.restart('redis', 20);
  await run.send(8_000, run.payments.length);
  let degraded = 0;
  const watch = setInterval(async () => {
    const values = (await engine.metrics.registry.getSingleMetric('tributary_state_degraded')?.get())?.values ?? [];
    degraded = Math.max(degraded, ...values.map((v) => v.value));
  }, 200);
  t.after(() => clearInterval(watch));
  await outage;
  const checkpointsAtRecovery = (await engine.metrics.checkpoints.get()).values[0]?.value ?? 0;
  await run.sendWatermarkEvents();
  const recoverySeconds = await run.waitForResults();
  await run.assertExactResults();
  clearInterval(watch);
  assert.equal(degraded, 1, 'the online state reported itself degraded during the outage');
  // The records processed since Redis came back are checkpointed again.
  await waitFor('a checkpoint saved after the outage', async () => (await engine.metrics.checkpoints.get()).values[0]?.value ?? 0, (n) => n > checkpointsAtRecovery, 30_000);
  console.log(`[fault] redis down 20 s: all results ${recoverySeconds.toFixed(1)} s after it was back; peak RSS ${run.peakRssMiB.toFixed(0)} MiB`);
});
