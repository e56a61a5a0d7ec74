import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEndpoint } from '../helpers/http-endpoint.ts';
import { TestClient } from './ws-test-client.ts';

// The engine's endpoint keeps a minute of stats snapshots (one a second) for resuming clients,
// not the 10,000 items other channels keep: at one a second those took over half an hour to fill.
test("the engine's endpoint keeps the last 60 items of tributary.stats and the default replay for other channels", async () => {
  const server = await startTestEndpoint({ PORT: '0', TRIBUTARY_SQL: 'off' });
  try {
    const snapshots = Array.from({ length: 100 }, (_, i) => ({ n: i + 1 }));
    for (const snapshot of snapshots) server.publish('tributary.stats', [snapshot], ['card-fraud']);
    server.publish('fraud', snapshots);
    const client = await TestClient.connect(server);
    await client.subscribe('tributary.stats', { resumeFrom: 1, epoch: server.epoch, snapshot: false });
    assert.deepEqual(await client.next(), { type: 'gap', channel: 'tributary.stats', resumeFrom: 1, oldest: 41, seq: 100, reason: 'evicted' });
    assert.deepEqual(await client.next(), { type: 'synced', channel: 'tributary.stats', seq: 100 });
    // Resuming within the minute replays exactly what was missed.
    const again = await TestClient.connect(server);
    assert.deepEqual((await again.subscribeSynced('tributary.stats', { resumeFrom: 95, epoch: server.epoch })).map((frame) => frame.seq), [96, 97, 98, 99, 100]);
    const fraud = await TestClient.connect(server);
    assert.equal((await fraud.subscribeSynced('fraud', { resumeFrom: 1, epoch: server.epoch })).length, 99);
    await Promise.all([client.close(), again.close(), fraud.close()]);
  } finally {
    await server.close();
  }
});
