import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { type RunningPushServer, startPushServer } from '../../src/push/uws-push-server.ts';

async function subscribedClient(server: RunningPushServer, received: number[]): Promise<WebSocket> {
  const socket = new WebSocket(`${server.url.replace('http:', 'ws:')}/ws`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'subscribe', channel: 'fraud' }));
  await new Promise((resolve) => socket.once('message', resolve));
  socket.on('message', (data) => received.push((JSON.parse(data.toString()) as { data: { id: number } }).data.id));
  return socket;
}

test('a client that stops reading is disconnected, never silently skipped; others get everything', async () => {
  const metrics = new Metrics();
  const server = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, metrics, maxBackpressureBytes: 64 * 1024 });
  try {
    const fastIds: number[] = [];
    const slowIds: number[] = [];
    const fast = await subscribedClient(server, fastIds);
    const slow = await subscribedClient(server, slowIds);
    const slowClosed = new Promise<number>((resolve) => slow.once('close', resolve));
    // Stop reading at the TCP level: kernel buffers fill, then uWS's per-socket buffer passes the limit.
    const slowTcp = (slow as unknown as { _socket: import('node:net').Socket })._socket;
    slowTcp.pause();

    const pad = 'x'.repeat(1000);
    let sent = 0;
    let clients = 2;
    while (clients === 2) {
      assert.ok(sent < 100_000, 'the slow client was never disconnected');
      server.publish('fraud', Array.from({ length: 100 }, (_, i) => ({ id: sent + i, pad })));
      sent += 100;
      // Pace the publisher by the fast client, which must keep up and lose nothing.
      while (fastIds.length < sent) await new Promise((resolve) => setTimeout(resolve, 1));
      clients = (await metrics.wsClients.get()).values[0]?.value ?? 0;
    }
    assert.equal(clients, 1);
    assert.deepEqual(fastIds, Array.from({ length: sent }, (_, id) => id));

    slowTcp.resume();
    assert.equal(await slowClosed, 1006);
    // What the slow client did get is a gap-free prefix: it can tell it was cut off, not misled.
    assert.ok(slowIds.length > 0 && slowIds.length < sent);
    assert.deepEqual(slowIds, Array.from({ length: slowIds.length }, (_, id) => id));
    fast.close();
  } finally {
    await server.close();
  }
});
