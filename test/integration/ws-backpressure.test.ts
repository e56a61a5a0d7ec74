import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningPushServer } from '../../src/push/uws-push-server.ts';
import { TestClient, metricValue, waitUntil, withServer } from './ws-test-client.ts';

const PAD = 'x'.repeat(1000);

/**
 * Two paused connections fill their kernel buffers at different rates, so one may pass its own
 * backlog bound and be closed before the other has fallen behind at all: the setup raced.
 */
class CongestionRace extends Error {}

/**
 * Publishes ~1 KB items one per publish (so the congestion check runs after each) until the
 * server counts `slowClients` clients as behind; returns the last sequence number sent to them.
 */
async function publishUntilCongested(server: RunningPushServer, channel: string, slowClients = 1): Promise<number> {
  const clients = server.stats().clients;
  for (let seq = 1; seq <= 100_000; seq++) {
    server.publish(channel, [{ seq, ok: true, pad: PAD }], [`p${seq}`]);
    const stats = server.stats();
    if (stats.slowClients >= slowClients) return seq;
    if (stats.clients < clients) throw new CongestionRace(`a client was closed before ${slowClients} fell behind`);
    if (seq % 20 === 0) await new Promise((resolve) => setImmediate(resolve)); // let uWS move bytes to the kernel
  }
  throw new Error('no client became congested');
}

/** Runs a scenario on a fresh server again (at most 3 times) when its setup raced. */
async function withFreshServerOnRace(...args: Parameters<typeof withServer>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withServer(...args);
    } catch (error) {
      if (!(error instanceof CongestionRace) || attempt === 3) throw error;
    }
  }
}

/** The name of the client whose connection closes first; fails after `timeoutMs` instead of waiting for ever. */
async function firstClosed(clients: Record<string, TestClient>, timeoutMs = 15_000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no client was closed within ${timeoutMs} ms`)), timeoutMs)));
  try {
    return await Promise.race([...Object.entries(clients).map(([name, client]) => client.closed.then(() => name)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads data frames until one with `seq`; returns all of them. */
async function readThrough(client: TestClient, seq: number): Promise<Array<{ seq: number; key?: string; data: Record<string, unknown> }>> {
  const frames: Array<{ type: string; seq: number; key?: string; data: Record<string, unknown> }> = [];
  for (;;) {
    const frame = await client.nextNonHeartbeat<{ type: string; seq: number; key?: string; data: Record<string, unknown> }>();
    assert.equal(frame.type, 'data', JSON.stringify(frame).slice(0, 200));
    frames.push(frame);
    if (frame.seq === seq) return frames;
  }
}

for (const [path, filter] of [
  ['uWS topic', undefined],
  ['filtered, JS', { equals: { ok: true } }],
] as const) {
  test(`a client that falls behind (${path} path) gets the latest item per key, then catches up and is live again`, () =>
    withServer(
      async (server, metrics) => {
        const slow = await TestClient.connect(server);
        await slow.subscribeSynced('fraud', filter === undefined ? {} : { filter });
        slow.tcp.pause();
        const congestedAt = await publishUntilCongested(server, 'fraud');

        // While it is behind: 1,000 items over 50 keys leave exactly 50 pending frames.
        const start = congestedAt + 1;
        for (let batch = 0; batch < 10; batch++) {
          server.publish('fraud', Array.from({ length: 100 }, (_, i) => ({ n: batch * 100 + i, ok: true, pad: PAD })), Array.from({ length: 100 }, (_, i) => `k${i % 50}`));
        }
        const latest = Array.from({ length: 50 }, (_, i) => ({ seq: start + 950 + i, key: `k${i}`, data: { n: 950 + i, ok: true, pad: PAD } }));
        const stats = server.stats();
        assert.equal(stats.slowClients, 1);
        assert.equal(stats.pendingFrames, 50);
        const frameBytes = (f: (typeof latest)[number]) => Buffer.byteLength(`{"type":"data","channel":"fraud","seq":${f.seq},"key":"${f.key}","data":${JSON.stringify(f.data)}}`);
        assert.equal(stats.pendingBytes, latest.reduce((sum, f) => sum + frameBytes(f), 0));
        assert.equal(await metricValue(metrics.wsConflated, { channel: 'fraud' }), 950);

        // It reads again: everything sent before it fell behind, gap-free, then the 50 latest values.
        slow.tcp.resume();
        const before = await readThrough(slow, congestedAt);
        assert.deepEqual(before.map((f) => f.seq), Array.from({ length: congestedAt }, (_, i) => i + 1));
        const conflated: unknown[] = [];
        for (let i = 0; i < 50; i++) {
          const { type, seq, key, data } = await slow.next<{ type: string; seq: number; key: string; data: unknown }>();
          assert.equal(type, 'data');
          conflated.push({ seq, key, data });
        }
        assert.deepEqual(conflated, latest);

        // Caught up: back on the live path, nothing lost from here on.
        await waitUntil(() => server.stats().slowClients === 0, 5000, 'catch-up');
        assert.equal(server.stats().pendingFrames, 0);
        server.publish('fraud', [{ after: 1, ok: true }, { after: 2, ok: true }]);
        assert.deepEqual(await slow.nextNonHeartbeat(), { type: 'data', channel: 'fraud', seq: start + 1000, data: { after: 1, ok: true } });
        assert.deepEqual(await slow.nextNonHeartbeat(), { type: 'data', channel: 'fraud', seq: start + 1001, data: { after: 2, ok: true } });
        await slow.expectNothingPending();
        assert.equal(await metricValue(metrics.wsDisconnects, { reason: 'slow_consumer' }), 0);
        await slow.close();
      },
      { slowClient: { maxBehindMs: 30_000 } },
    ));
}

test('a client that stays behind is closed with 4008; what it got is a gap-free prefix', () =>
  withServer(
    async (server, metrics) => {
      const slow = await TestClient.connect(server);
      const fast = await TestClient.connect(server);
      await slow.subscribeSynced('fraud');
      await fast.subscribeSynced('fraud', { filter: { keys: ['none'] } }); // a keeping-up client on the JS path
      slow.tcp.pause();
      const congestedAt = await publishUntilCongested(server, 'fraud');
      server.publish('fraud', [{ a: 1 }, { a: 2 }, { a: 3 }], ['x', 'y', 'x']);
      const behindSince = Date.now();
      assert.equal(server.stats().pendingFrames, 2);

      await waitUntil(() => server.stats().clients === 1, 20_000, 'slow client closed');
      const waited = Date.now() - behindSince;
      // Not before its time; the upper bound only catches a close that never came from the limit.
      assert.ok(waited >= 700 && waited < 15_000, `closed after ${waited} ms (maxBehindMs 1000, checked every 250 ms)`);
      const after = server.stats();
      assert.deepEqual([after.slowClients, after.pendingFrames, after.pendingBytes], [0, 0, 0]);
      assert.equal(await metricValue(metrics.wsDisconnects, { reason: 'slow_consumer' }), 1);
      assert.equal(await metricValue(metrics.wsDropped, { channel: 'fraud', reason: 'disconnect' }), 2);

      slow.tcp.resume();
      const got = await readThrough(slow, congestedAt);
      assert.deepEqual(got.map((f) => f.seq), Array.from({ length: congestedAt }, (_, i) => i + 1));
      assert.deepEqual(await slow.closed, { code: 4008, reason: 'too slow: send buffer limit' });
      await fast.expectNothingPending();
      await fast.close();
    },
    { slowClient: { maxBehindMs: 1000 } },
  ));

test('pending frames past their byte bound close the client at once (keyless items are never conflated)', () =>
  withServer(
    async (server, metrics) => {
      const slow = await TestClient.connect(server);
      await slow.subscribeSynced('fraud');
      slow.tcp.pause();
      const congestedAt = await publishUntilCongested(server, 'fraud');
      let published = 0;
      while (server.stats().clients === 1) {
        server.publish('fraud', [{ pad: PAD }]); // no key
        published += 1;
        assert.ok(published <= 40, 'not closed after 40 KB pending');
      }
      // Closed by the first pending frame that takes the total past 32 KiB.
      let expected = 0;
      for (let bytes = 0; bytes <= 32 * 1024; expected++) bytes += Buffer.byteLength(`{"type":"data","channel":"fraud","seq":${congestedAt + expected + 1},"data":{"pad":"${PAD}"}}`);
      // Closed by the byte bound, long before the slow-client time limit could apply.
      assert.equal(published, expected);
      assert.equal(await metricValue(metrics.wsDisconnects, { reason: 'slow_consumer' }), 1);
      assert.deepEqual([server.stats().pendingFrames, server.stats().pendingBytes], [0, 0]);
      slow.tcp.resume();
      for (;;) {
        const frame = await slow.next<{ type: string }>().catch(() => undefined);
        if (frame === undefined) break;
      }
      assert.equal((await slow.closed).code, 4008);
    },
    { replay: { bytes: 16 * 1024 }, snapshot: { bytes: 16 * 1024 }, slowClient: { maxPendingBytes: 32 * 1024, maxBehindMs: 30_000 } },
  ));

test('past the bound on all pending frames, the client holding most is closed', () =>
  withFreshServerOnRace(
    async (server) => {
      const a = await TestClient.connect(server);
      const b = await TestClient.connect(server);
      await a.subscribeSynced('fraud');
      await b.subscribeSynced('fraud');
      await a.subscribeSynced('extra');
      a.tcp.pause();
      b.tcp.pause();
      await publishUntilCongested(server, 'fraud', 2);
      server.publish('extra', Array.from({ length: 10 }, () => ({ pad: PAD }))); // only a: it now holds more
      for (let i = 0; i < 60 && server.stats().clients === 2; i++) server.publish('fraud', [{ pad: PAD }]);
      assert.equal(server.stats().clients, 1);
      a.tcp.resume();
      b.tcp.resume();
      // b's kernel buffer may have taken less than a's, leaving it more pending than a's 10 extra
      // items: then b is the one closed, the setup raced. (Waiting on a alone hung the file.)
      if ((await firstClosed({ a, b })) === 'b') throw new CongestionRace('b held more pending bytes than a');
      assert.equal((await a.closed).code, 4008);
      // b catches up and stays: its reply to a probe comes after everything queued for it.
      b.send({ type: 'probe' });
      for (;;) {
        const frame = await b.next<{ type: string; code?: string }>();
        if (frame.type === 'error') {
          assert.equal(frame.code, 'unknown_type');
          break;
        }
      }
      await waitUntil(() => server.stats().slowClients === 0, 5000, 'b caught up');
      assert.equal(server.stats().clients, 1);
      await b.close();
    },
    { replay: { bytes: 16 * 1024 }, snapshot: { bytes: 16 * 1024 }, slowClient: { maxPendingBytes: 32 * 1024, maxTotalPendingBytes: 48 * 1024, maxBehindMs: 30_000 } },
  ));
