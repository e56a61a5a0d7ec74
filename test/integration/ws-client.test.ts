import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { TributaryClient, type DataMessage, type GapMessage, type WebSocketConstructor } from '../../src/client/tributary-client.ts';
import { signPushToken } from '../../src/push/push-token.ts';
import { waitUntil, withServer, wsUrl } from './ws-test-client.ts';

interface Prediction {
  n: number;
  probability: number;
}

/** The `ws` WebSocket, remembering each socket it opens so a test can cut the connection. */
function capturingWebSocket(): { WebSocket: WebSocketConstructor; sockets: WebSocket[] } {
  const sockets: WebSocket[] = [];
  class Captured extends WebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return { WebSocket: Captured as unknown as WebSocketConstructor, sockets };
}

const predictions = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ n: from + i, probability: ((from + i) % 10) / 10 }));

test('the client subscribes with a filter and gets typed items', () =>
  withServer(async (server) => {
    const client = new TributaryClient({ url: wsUrl(server), WebSocket: WebSocket as unknown as WebSocketConstructor });
    const got: Array<[Prediction, number, string | undefined]> = [];
    const subscription = client.subscribe<Prediction>('fraud', { filter: { min: { probability: 0.5 } }, snapshot: false });
    subscription.on('data', (prediction, message) => got.push([prediction, message.seq, message.key]));
    const synced = new Promise((resolve) => subscription.on('synced', resolve));
    await synced;
    server.publish('fraud', predictions(1, 10), predictions(1, 10).map((p) => `k${p.n}`));
    await waitUntil(() => got.length === 5);
    assert.deepEqual(got, [5, 6, 7, 8, 9].map((n) => [{ n, probability: n / 10 }, n, `k${n}`]));
    subscription.unsubscribe();
    server.publish('fraud', predictions(15, 15));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(got.length, 5);
    client.close();
  }));

test('after a dropped connection the client reconnects and resumes: every item exactly once', () =>
  withServer(async (server) => {
    const { WebSocket: Captured, sockets } = capturingWebSocket();
    const client = new TributaryClient({ url: wsUrl(server), WebSocket: Captured, reconnect: { initialDelayMs: 50, jitter: 0 } });
    const seen: number[] = [];
    const subscription = client.subscribe<Prediction>('fraud');
    subscription.on('data', (prediction) => seen.push(prediction.n));
    const closes: Array<{ code: number; willReconnect: boolean }> = [];
    client.on('close', ({ code, willReconnect }) => closes.push({ code, willReconnect }));
    await new Promise((resolve) => subscription.on('synced', resolve));

    server.publish('fraud', predictions(1, 3), ['a', 'b', 'a']);
    await waitUntil(() => seen.length === 3);
    sockets[0]!.terminate(); // the network drops
    await waitUntil(() => closes.length === 1);
    server.publish('fraud', predictions(4, 6), ['a', 'b', 'a']); // while disconnected
    await waitUntil(() => sockets.length === 2 && client.connected);
    await waitUntil(() => seen.length === 6);
    server.publish('fraud', predictions(7, 7), ['b']);
    await waitUntil(() => seen.length === 7);
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(closes, [{ code: 1006, willReconnect: true }]);
    assert.equal(subscription.lastSeq, 7);
    assert.equal(subscription.epoch, server.epoch);
    client.close();
  }));

test('when the server no longer holds what was missed, the client reports a gap and takes the snapshot', () =>
  withServer(
    async (server) => {
      const { WebSocket: Captured, sockets } = capturingWebSocket();
      const client = new TributaryClient({ url: wsUrl(server), WebSocket: Captured, reconnect: { initialDelayMs: 50, jitter: 0 } });
      const seen: Array<[number, number]> = [];
      const gaps: GapMessage[] = [];
      const subscription = client.subscribe<Prediction>('fraud');
      subscription.on('data', (prediction, message) => seen.push([message.seq, prediction.n]));
      subscription.on('gap', (gap) => gaps.push(gap));
      await new Promise((resolve) => subscription.on('synced', resolve));
      server.publish('fraud', predictions(1, 2), ['a', 'b']);
      await waitUntil(() => seen.length === 2);

      sockets[0]!.terminate();
      await waitUntil(() => !client.connected);
      server.publish('fraud', predictions(3, 12), Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'a' : 'b'))); // replay holds 3
      await waitUntil(() => seen.length === 4);
      assert.deepEqual(gaps, [{ type: 'gap', channel: 'fraud', resumeFrom: 2, oldest: 10, seq: 12, reason: 'evicted' }]);
      assert.deepEqual(seen, [[1, 1], [2, 2], [11, 11], [12, 12]]); // then the latest per key
      client.close();
    },
    { replay: { items: 3 } },
  ));

test('a token function is asked on every connect; after expiry (4001) the client reconnects with a fresh token', () =>
  withServer(
    async (server) => {
      let asked = 0;
      const token = async () => {
        asked += 1;
        return signPushToken('client-test-secret-client-test-secret', { channels: ['fraud'], expiresInSeconds: asked === 1 ? 2 : 60 });
      };
      const client = new TributaryClient({ url: wsUrl(server), token, WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: { initialDelayMs: 20, jitter: 0 } });
      const data: DataMessage[] = [];
      const closes: number[] = [];
      client.on('data', (message) => data.push(message));
      client.on('close', ({ code }) => closes.push(code));
      // Closed whatever happens: a client left reconnecting would keep the test file alive.
      try {
        const subscription = client.subscribe('fraud');
        // Subscribed at the server, not just connected: an item published before the subscribe
        // arrives has no subscriber and (without a key) no snapshot, so it would never come.
        await new Promise((resolve) => subscription.on('synced', resolve));
        server.publish('fraud', predictions(1, 1));
        await waitUntil(() => closes.length === 1, 15_000, 'token expiry');
        server.publish('fraud', predictions(2, 2));
        await waitUntil(() => data.length === 2, 15_000, 'resumed after expiry');
        assert.deepEqual(closes, [4001]);
        assert.equal(asked, 2);
        assert.deepEqual(data.map((m) => m.seq), [1, 2]);
      } finally {
        client.close();
      }
    },
    { auth: { secret: 'client-test-secret-client-test-secret' } },
  ));
