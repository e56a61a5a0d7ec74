/**
 * Batch frames (protocol 2): a subscription with `batch: true` gets the items of one publish in
 * as few frames as the size bound allows, each item exactly the data message a plain subscriber
 * gets alone. Real uWS server, real `ws` clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TributaryClient } from '../../src/client/tributary-client.ts';
import { WebSocket } from 'ws';
import { TestClient, waitUntil, withServer, wsUrl } from './ws-test-client.ts';

/** The server's default soft limit is 256 KiB; batch frames are at most half of it. */
const BATCH_FRAME_LIMIT = 128 * 1024;

interface Item {
  n: number;
  probability: number;
  pad: string;
}

function items(count: number, from = 0): Item[] {
  return Array.from({ length: count }, (_, i) => ({ n: from + i, probability: ((from + i) % 10) / 10, pad: 'x'.repeat(200) }));
}

/** Reads frames until `count` data messages arrived, alone or in batches; returns them and the raw frames. */
async function readItems(client: TestClient, count: number): Promise<{ messages: Array<Record<string, unknown>>; frames: string[] }> {
  const messages: Array<Record<string, unknown>> = [];
  const frames: string[] = [];
  while (messages.length < count) {
    const raw = await client.nextRaw();
    const frame = JSON.parse(raw) as { type: string; channel: string; items?: Array<Record<string, unknown>> };
    if (frame.type === 'heartbeat') continue;
    frames.push(raw);
    if (frame.type === 'batch') messages.push(...frame.items!);
    else if (frame.type === 'data') messages.push(frame);
    else assert.fail(`unexpected frame ${raw.slice(0, 200)}`);
  }
  return { messages, frames };
}

test('a batch subscriber gets one publish in batch frames under the size bound, item for item what a plain subscriber gets', async () => {
  await withServer(async (server) => {
    const plain = await TestClient.connect(server);
    const batched = await TestClient.connect(server);
    await plain.subscribeSynced('fraud');
    await batched.subscribeSynced('fraud', { batch: true });
    const published = items(1000);
    server.publish('fraud', published, published.map((item) => `card-${item.n % 50}`));

    const alone = await readItems(plain, 1000);
    const together = await readItems(batched, 1000);
    assert.equal(alone.frames.length, 1000, 'a plain subscriber gets a frame per item');
    // ~250 bytes an item: 250 KB in frames of at most 128 KiB.
    assert.ok(together.frames.length >= 2 && together.frames.length <= 4, `${together.frames.length} frames`);
    for (const raw of together.frames) {
      assert.ok(Buffer.byteLength(raw) <= BATCH_FRAME_LIMIT, `a frame of ${Buffer.byteLength(raw)} bytes`);
      assert.ok(raw.startsWith('{"type":"batch","channel":"fraud","items":['), raw.slice(0, 80));
    }
    assert.deepEqual(together.messages, alone.messages);
    assert.deepEqual(
      together.messages,
      published.map((item, i) => ({ type: 'data', channel: 'fraud', seq: i + 1, key: `card-${item.n % 50}`, data: item })),
    );
    await batched.expectNothingPending();
    await plain.expectNothingPending();
  });
});

test('a filtered batch subscriber gets only the matching items, batched, in sequence order', async () => {
  await withServer(async (server) => {
    const client = await TestClient.connect(server);
    await client.subscribeSynced('fraud', { batch: true, filter: { min: { probability: 0.7 } } });
    const published = items(400);
    server.publish('fraud', published);
    // Independently: n % 10 in 7..9 is probability >= 0.7, 3 of every 10.
    const expected = published.flatMap((item, i) => (item.n % 10 >= 7 ? [{ type: 'data', channel: 'fraud', seq: i + 1, data: item }] : []));
    assert.equal(expected.length, 120);
    const { messages, frames } = await readItems(client, expected.length);
    assert.deepEqual(messages, expected);
    assert.equal(frames.length, 1, '120 items of ~250 bytes fit one frame');
    await client.expectNothingPending();
  });
});

test('a lone item goes as a data frame; the snapshot of a new batch subscriber comes in batch frames before synced', async () => {
  await withServer(async (server) => {
    const published = items(300);
    server.publish('fraud', published, published.map((item) => `card-${item.n % 100}`));
    const client = await TestClient.connect(server);
    const ack = await client.subscribe('fraud', { batch: true });
    assert.equal(ack.seq, 300);
    // The latest item per key: n = 200..299, in sequence order.
    const { messages, frames } = await readItems(client, 100);
    assert.deepEqual(messages, published.slice(200).map((item, i) => ({ type: 'data', channel: 'fraud', seq: 201 + i, key: `card-${item.n % 100}`, data: item })));
    assert.equal(frames.length, 1);
    assert.deepEqual(await client.next(), { type: 'synced', channel: 'fraud', seq: 300 });

    server.publish('fraud', [{ n: 1, probability: 0.5, pad: '' }], ['card-1']);
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 301, key: 'card-1', data: { n: 1, probability: 0.5, pad: '' } });
  });
});

test('batch must be true or false', async () => {
  await withServer(async (server) => {
    const client = await TestClient.connect(server);
    client.send({ type: 'subscribe', channel: 'fraud', batch: 'yes' });
    assert.deepEqual(await client.next(), { type: 'error', code: 'invalid_filter', error: 'invalid filter: batch must be true or false', channel: 'fraud' });
  });
});

test('the typed client asks for batch frames and hands on every item of a burst, in order', async () => {
  await withServer(async (server) => {
    const client = new TributaryClient({ url: wsUrl(server), WebSocket: WebSocket as never });
    const received: number[] = [];
    const seqs: number[] = [];
    let synced = false;
    const subscription = client.subscribe<Item>('fraud', { snapshot: false });
    subscription.on('data', (item, message) => {
      received.push(item.n);
      seqs.push(message.seq);
    });
    subscription.on('synced', () => (synced = true));
    await waitUntil(() => synced, 5000, 'the subscription to sync');
    const published = items(2000);
    server.publish('fraud', published);
    await waitUntil(() => received.length >= 2000, 10_000, 'every item');
    assert.deepEqual(received, published.map((item) => item.n));
    assert.deepEqual(seqs, published.map((_, i) => i + 1));
    client.close();
  });
});
