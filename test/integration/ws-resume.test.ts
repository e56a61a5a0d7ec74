import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient, withServer } from './ws-test-client.ts';

const items = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ n: from + i }));

test('a reconnecting client resumes from its last sequence number and gets exactly what it missed', () =>
  withServer(async (server) => {
    const first = await TestClient.connect(server);
    const { epoch } = await first.subscribe('fraud');
    await first.next(); // synced
    server.publish('fraud', items(1, 3));
    for (let seq = 1; seq <= 3; seq++) assert.equal((await first.next<{ seq: number }>()).seq, seq);
    await first.close();

    server.publish('fraud', items(4, 8), ['a', 'b', 'a', 'b', 'a']);
    const again = await TestClient.connect(server);
    const ack = await again.subscribe('fraud', { resumeFrom: 3, epoch });
    assert.deepEqual(ack, { type: 'subscribed', channel: 'fraud', seq: 8, epoch, heartbeatMs: 10000, protocol: 2 });
    const replayed: unknown[] = [];
    for (let i = 0; i < 5; i++) replayed.push(await again.next());
    // Every missed item, none conflated away, in order: a replay is not a snapshot.
    assert.deepEqual(replayed, [
      { type: 'data', channel: 'fraud', seq: 4, key: 'a', data: { n: 4 } },
      { type: 'data', channel: 'fraud', seq: 5, key: 'b', data: { n: 5 } },
      { type: 'data', channel: 'fraud', seq: 6, key: 'a', data: { n: 6 } },
      { type: 'data', channel: 'fraud', seq: 7, key: 'b', data: { n: 7 } },
      { type: 'data', channel: 'fraud', seq: 8, key: 'a', data: { n: 8 } },
    ]);
    assert.deepEqual(await again.next(), { type: 'synced', channel: 'fraud', seq: 8 });
    server.publish('fraud', items(9, 9));
    assert.deepEqual(await again.next(), { type: 'data', channel: 'fraud', seq: 9, data: { n: 9 } });
    await again.expectNothingPending();

    // Resuming with a filter replays only matching items; resuming at the head replays nothing.
    const filtered = await TestClient.connect(server);
    const got = await filtered.subscribeSynced('fraud', { resumeFrom: 3, epoch, filter: { keys: ['b'] } });
    assert.deepEqual(got.map((frame) => frame.seq), [5, 7]);
    const current = await TestClient.connect(server);
    assert.deepEqual(await current.subscribeSynced('fraud', { resumeFrom: 9, epoch }), []);
    await Promise.all([again.close(), filtered.close(), current.close()]);
  }));

test('resuming from before the replay buffer gets a gap frame, then the snapshot', () =>
  withServer(
    async (server) => {
      server.publish('fraud', items(1, 20), Array.from({ length: 20 }, (_, i) => `k${i % 3}`));
      assert.equal(server.stats().replayBytes, items(16, 20).reduce((sum, item, i) => sum + Buffer.byteLength(`{"type":"data","channel":"fraud","seq":${16 + i},"key":"k${(15 + i) % 3}","data":${JSON.stringify(item)}}`), 0));
      const client = await TestClient.connect(server);
      const ack = await client.subscribe('fraud', { resumeFrom: 2, epoch: server.epoch });
      assert.equal(ack.seq, 20);
      assert.deepEqual(await client.next(), { type: 'gap', channel: 'fraud', resumeFrom: 2, oldest: 16, seq: 20, reason: 'evicted' });
      assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 18, key: 'k2', data: { n: 18 } });
      assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 19, key: 'k0', data: { n: 19 } });
      assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 20, key: 'k1', data: { n: 20 } });
      assert.deepEqual(await client.next(), { type: 'synced', channel: 'fraud', seq: 20 });

      // The oldest replayable item is 16: resuming from 15 is complete, from 14 is not.
      const edge = await TestClient.connect(server);
      assert.deepEqual((await edge.subscribeSynced('fraud', { resumeFrom: 15 })).map((frame) => frame.seq), [16, 17, 18, 19, 20]);
      await edge.subscribe('fraud', { resumeFrom: 14, snapshot: false });
      assert.deepEqual(await edge.next(), { type: 'gap', channel: 'fraud', resumeFrom: 14, oldest: 16, seq: 20, reason: 'evicted' });
      assert.deepEqual(await edge.next(), { type: 'synced', channel: 'fraud', seq: 20 });
      await Promise.all([client.close(), edge.close()]);
    },
    { replay: { items: 5 } },
  ));

test('the replay buffer also stops at its byte bound, keeping at least the newest item', () =>
  withServer(
    async (server) => {
      const pad = 'x'.repeat(400);
      server.publish('fraud', items(1, 10).map((item) => ({ ...item, pad })));
      const frameBytes = (n: number) => Buffer.byteLength(`{"type":"data","channel":"fraud","seq":${n},"data":${JSON.stringify({ n, pad })}}`);
      // 1024-byte bound, frames of ~450 bytes: the newest two fit.
      assert.equal(server.stats().replayBytes, frameBytes(9) + frameBytes(10));
      const client = await TestClient.connect(server);
      assert.deepEqual((await client.subscribeSynced('fraud', { resumeFrom: 8 })).map((frame) => frame.seq), [9, 10]);
      server.publish('fraud', [{ big: 'y'.repeat(5000) }]);
      assert.equal(server.stats().replayBytes, Buffer.byteLength(`{"type":"data","channel":"fraud","seq":11,"data":{"big":"${'y'.repeat(5000)}"}}`));
      await client.close();
    },
    { replay: { items: 100, bytes: 1024 } },
  ));

test('a resume numbered by another server instance (or from the future) is a gap', () =>
  withServer(async (server) => {
    server.publish('fraud', items(1, 3), ['a', 'b', 'a']);
    const client = await TestClient.connect(server);
    await client.subscribe('fraud', { resumeFrom: 2, epoch: 'an-older-server' });
    assert.deepEqual(await client.next(), { type: 'gap', channel: 'fraud', resumeFrom: 2, oldest: 1, seq: 3, reason: 'epoch' });
    assert.deepEqual((await client.next()).seq, 2);
    assert.deepEqual((await client.next()).seq, 3);
    assert.deepEqual(await client.next(), { type: 'synced', channel: 'fraud', seq: 3 });
    await client.subscribe('fraud', { resumeFrom: 40, snapshot: false });
    assert.deepEqual(await client.next(), { type: 'gap', channel: 'fraud', resumeFrom: 40, oldest: 1, seq: 3, reason: 'epoch' });
    assert.deepEqual(await client.next(), { type: 'synced', channel: 'fraud', seq: 3 });
    await client.close();
  }));

test('heartbeats carry each subscribed channel sequence number', () =>
  withServer(
    async (server) => {
      const client = await TestClient.connect(server);
      await client.subscribeSynced('fraud');
      await client.subscribeSynced('alerts', { filter: { keys: ['k'] } }); // served from JS, not the topic
      server.publish('fraud', items(1, 4));
      for (let i = 0; i < 4; i++) await client.next();
      const before = Date.now();
      const beats = [await client.next<{ type: string; channel: string; seq: number; time: number }>(), await client.next<{ type: string; channel: string; seq: number; time: number }>()];
      beats.sort((a, b) => a.channel.localeCompare(b.channel));
      assert.deepEqual(beats.map(({ type, channel, seq }) => ({ type, channel, seq })), [
        { type: 'heartbeat', channel: 'alerts', seq: 0 },
        { type: 'heartbeat', channel: 'fraud', seq: 4 },
      ]);
      for (const beat of beats) assert.ok(beat.time >= before - 1000 && beat.time <= Date.now(), `time ${beat.time}`);
      await client.close();
    },
    { heartbeatIntervalMs: 300 },
  ));

test('a channel named in replayByChannel keeps its own replay bounds; the others keep the default ones', () =>
  withServer(
    async (server) => {
      server.publish('fraud', items(1, 10));
      server.publish('status', items(1, 10));
      // The frames each channel still holds: fraud all 10, status its last 3.
      const frameBytes = (channel: string, n: number) => Buffer.byteLength(`{"type":"data","channel":"${channel}","seq":${n},"data":${JSON.stringify({ n })}}`);
      const held = (channel: string, from: number) => items(from, 10).reduce((sum, item) => sum + frameBytes(channel, item.n), 0);
      assert.equal(server.stats().replayBytes, held('fraud', 1) + held('status', 8));

      const client = await TestClient.connect(server);
      assert.deepEqual((await client.subscribeSynced('fraud', { resumeFrom: 1, epoch: server.epoch })).map((frame) => frame.seq), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
      await client.subscribe('status', { resumeFrom: 1, epoch: server.epoch, snapshot: false });
      assert.deepEqual(await client.next(), { type: 'gap', channel: 'status', resumeFrom: 1, oldest: 8, seq: 10, reason: 'evicted' });
      assert.deepEqual(await client.next(), { type: 'synced', channel: 'status', seq: 10 });
      await client.close();
    },
    { replay: { items: 50 }, replayByChannel: { status: { items: 3 } } },
  ));
