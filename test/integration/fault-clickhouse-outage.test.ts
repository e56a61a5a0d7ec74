import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultRun } from '../helpers/fault-run.ts';
import { waitFor } from '../helpers/services.ts';

test('fault: ClickHouse down for 20 s mid-stream; sinks retry and resume; nothing lost or duplicated', { timeout: 400_000 }, async (t) => {
  const run = await FaultRun.start(t, { events: 20_000, seed: 23 });
  const engine = await run.startEngine();
  await run.send(0, 8_000);
  await waitFor('the first part processed', async () => engine.stats().processedRecords, (n) => n >= 8_000, 60_000);

  // ClickHouse stops, stays down 20 s, starts again with its data; the rest arrives meanwhile.
  // The rest is sent only once it is really down (its graceful stop takes seconds, and the engine
  // would otherwise write everything before the outage began).
  const outage = run.services.restart('clickhouse', 20);
  await waitFor('ClickHouse down', () => run.services.reachable('clickhouse'), (up) => !up, 60_000);
  await run.send(8_000, run.payments.length);
  await run.sendWatermarkEvents();
  await outage;
  const peakDuringOutage = run.peakRssMiB;
  const recoverySeconds = await run.waitForResults();
  await run.assertExactResults();
  const stats = engine.stats();
  // The outage was really hit: ClickHouse sinks failed writes (and retried them) while it was down.
  const sinkErrors = (await engine.metrics.sinkErrors.get()).values.filter((v) => String(v.labels.sink).startsWith('clickhouse')).reduce((sum, v) => sum + v.value, 0);
  assert.ok(sinkErrors > 0, `ClickHouse sinks saw ${sinkErrors} failed writes during the outage`);
  // 20,000 events fit in the sinks' bounded buffers (4 x 10,000 rows each), so fetching need not
  // pause here; test/integration/backpressure-kafka.test.ts shows the pause with a slow sink.
  assert.ok(stats.peakInFlight <= run.config.maxInFlightRecords);
  console.log(`[fault] clickhouse down 20 s: all results ${recoverySeconds.toFixed(1)} s after it was back; peak RSS ${peakDuringOutage.toFixed(0)} MiB; fetch blocked ${stats.fetchBlocked}, sink waits ${stats.sinkWaits}, failed sink writes ${sinkErrors}`);
});
