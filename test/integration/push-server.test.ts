import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, TributaryError } from '../../src/core/errors.ts';
import { MAX_CHANNELS_PER_CLIENT } from '../../src/push/channel-sockets.ts';
import { PROTOCOL_ERRORS } from '../../src/push/protocol.ts';
import { TestClient, withServer } from './ws-test-client.ts';


test('subscribe is acknowledged with the sequence number and epoch, then synced', () =>
  withServer(async (server) => {
    const client = await TestClient.connect(server);
    client.send({ type: 'subscribe', channel: 'fraud' });
    assert.equal(await client.nextRaw(), `{"type":"subscribed","channel":"fraud","seq":0,"epoch":"${server.epoch}","heartbeatMs":10000,"protocol":2}`);
    assert.equal(await client.nextRaw(), '{"type":"synced","channel":"fraud","seq":0}');
    await client.expectNothingPending();
    await client.close();
  }));

test('published items arrive as exact data messages with sequence numbers, in order', () =>
  withServer(async (server) => {
    const client = await TestClient.connect(server);
    await client.subscribeSynced('fraud');
    server.publish('fraud', [{ cardId: 'c1', probability: 0.91 }, { cardId: 'c2', probability: 0.05 }, 'text', 7, null, undefined]);
    server.publish('fraud', [{ id: 7 }], ['card-"7"']);
    assert.equal(await client.nextRaw(), '{"type":"data","channel":"fraud","seq":1,"data":{"cardId":"c1","probability":0.91}}');
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 2, data: { cardId: 'c2', probability: 0.05 } });
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 3, data: 'text' });
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 4, data: 7 });
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 5, data: null });
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 6, data: null });
    assert.equal(await client.nextRaw(), '{"type":"data","channel":"fraud","seq":7,"key":"card-\\"7\\"","data":{"id":7}}');
    await client.expectNothingPending();
    await client.close();
  }));

test('a client gets nothing from channels it has not subscribed to', () =>
  withServer(async (server) => {
    const fraud = await TestClient.connect(server);
    const other = await TestClient.connect(server);
    const idle = await TestClient.connect(server);
    await fraud.subscribeSynced('fraud');
    await other.subscribeSynced('other');
    server.publish('fraud', [{ id: 1 }]);
    server.publish('other', [{ id: 2 }]);
    assert.deepEqual(await fraud.next(), { type: 'data', channel: 'fraud', seq: 1, data: { id: 1 } });
    assert.deepEqual(await other.next(), { type: 'data', channel: 'other', seq: 1, data: { id: 2 } });
    await Promise.all([fraud.expectNothingPending(), other.expectNothingPending(), idle.expectNothingPending()]);
    await Promise.all([fraud.close(), other.close(), idle.close()]);
  }));

test('unsubscribe stops delivery on that channel only', () =>
  withServer(async (server) => {
    const client = await TestClient.connect(server);
    await client.subscribeSynced('fraud');
    await client.subscribeSynced('alerts');
    server.publish('fraud', [{ id: 1 }]);
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 1, data: { id: 1 } });
    client.send({ type: 'unsubscribe', channel: 'fraud' });
    assert.deepEqual(await client.next(), { type: 'unsubscribed', channel: 'fraud' });
    server.publish('fraud', [{ id: 2 }]);
    server.publish('alerts', [{ id: 3 }]);
    assert.deepEqual(await client.next(), { type: 'data', channel: 'alerts', seq: 1, data: { id: 3 } });
    await client.expectNothingPending();
    await client.close();
  }));

test('bad frames get error frames with a code, and the connection stays usable', () =>
  withServer(async (server, metrics) => {
    const client = await TestClient.connect(server);
    const cases: Array<[frame: unknown, code: keyof typeof PROTOCOL_ERRORS, channel?: string]> = [
      ['{not json', 'malformed_json'],
      ['', 'malformed_json'],
      ['[1,2]', 'not_an_object'],
      ['null', 'not_an_object'],
      ['"subscribe"', 'not_an_object'],
      [{ type: 'publish', channel: 'fraud' }, 'unknown_type'],
      [{ channel: 'fraud' }, 'unknown_type'],
      [{ type: 'subscribe' }, 'invalid_channel'],
      [{ type: 'subscribe', channel: '' }, 'invalid_channel'],
      [{ type: 'subscribe', channel: 42 }, 'invalid_channel'],
      [{ type: 'subscribe', channel: 'fraud/#' }, 'invalid_channel'],
      [{ type: 'subscribe', channel: 'x'.repeat(65) }, 'invalid_channel'],
      [{ type: 'unsubscribe', channel: 'a b' }, 'invalid_channel'],
      [{ type: 'subscribe', channel: 'fraud', resumeFrom: -1 }, 'invalid_resume', 'fraud'],
      [{ type: 'subscribe', channel: 'fraud', resumeFrom: 1.5 }, 'invalid_resume', 'fraud'],
      [{ type: 'subscribe', channel: 'fraud', resumeFrom: '3' }, 'invalid_resume', 'fraud'],
      [{ type: 'subscribe', channel: 'fraud', resumeFrom: 3, epoch: 7 }, 'invalid_resume', 'fraud'],
      [Buffer.from('{"type":"subscribe","channel":"fraud"}'), 'binary_frame'],
      [Buffer.from([0xff, 0x00, 0x13]), 'binary_frame'],
    ];
    for (const [frame, code, channel] of cases) {
      client.send(frame);
      const expected = channel === undefined ? { type: 'error', code, error: PROTOCOL_ERRORS[code] } : { type: 'error', code, error: PROTOCOL_ERRORS[code], channel };
      assert.deepEqual(await client.next(), expected, `reply to ${String(frame)}`);
    }
    client.send({ type: 'subscribe', channel: 'fraud', filter: { min: { probability: 'high' } } });
    assert.deepEqual(await client.next(), { type: 'error', code: 'invalid_filter', error: 'invalid filter: filter.min.probability must be a finite number', channel: 'fraud' });
    await client.subscribeSynced('x'.repeat(64));
    await client.subscribeSynced('fraud');
    server.publish('fraud', [{ ok: true }]);
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 1, data: { ok: true } });
    const errors = (await metrics.wsProtocolErrors.get()).values;
    assert.equal(errors.find((v) => v.labels.code === 'invalid_channel')?.value, 6);
    assert.equal(errors.find((v) => v.labels.code === 'binary_frame')?.value, 2);
    await client.close();
  }));

test('one connection may hold at most MAX_CHANNELS_PER_CLIENT subscriptions', () =>
  withServer(async (server) => {
    const client = await TestClient.connect(server);
    for (let i = 0; i < MAX_CHANNELS_PER_CLIENT; i++) await client.subscribeSynced(`ch-${i}`);
    client.send({ type: 'subscribe', channel: 'one-too-many' });
    assert.deepEqual(await client.next(), { type: 'error', code: 'too_many_channels', error: PROTOCOL_ERRORS.too_many_channels, channel: 'one-too-many' });
    await client.subscribeSynced('ch-0'); // already held: still acknowledged
    client.send({ type: 'unsubscribe', channel: 'ch-1' });
    assert.deepEqual(await client.next(), { type: 'unsubscribed', channel: 'ch-1' });
    await client.subscribeSynced('one-too-many');
    await client.close();
  }));

test('random garbage never takes the server down', () =>
  withServer(
    async (server) => {
      const client = await TestClient.connect(server);
      let seed = 7;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let i = 0; i < 300; i++) {
        const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256)));
        // Text frames must be valid UTF-8 (RFC 6455), so garbage text goes through a lossy decode.
        client.send(i % 2 === 0 ? bytes : bytes.toString('utf8'));
        const reply = await client.next<{ type: string; code: string }>();
        assert.equal(reply.type, 'error');
        assert.ok(reply.code in PROTOCOL_ERRORS, reply.code);
      }
      await client.subscribeSynced('fraud');
      await client.close();
    },
    { rateLimit: { messagesPerSecond: 1000, burst: 1000 } },
  ));

test('a frame over maxPayloadLength closes only that connection', () =>
  withServer(
    async (server) => {
      const big = await TestClient.connect(server);
      big.send(JSON.stringify({ type: 'subscribe', channel: 'fraud', pad: 'x'.repeat(2048) }));
      assert.equal((await big.closed).code, 1006);
      const next = await TestClient.connect(server);
      await next.subscribeSynced('fraud');
      await next.close();
    },
    { maxPayloadLength: 1024 },
  ));

test('50 clients each receive all 1,000 items exactly, in order', () =>
  withServer(async (server, metrics) => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => TestClient.connect(server)));
    await Promise.all(clients.map((c) => c.subscribeSynced('fraud')));
    assert.equal((await metrics.wsClients.get()).values[0]?.value, 50);

    const ids = Array.from({ length: 1000 }, (_, id) => id);
    for (let start = 0; start < ids.length; start += 100) {
      server.publish('fraud', ids.slice(start, start + 100).map((id) => ({ id, cardId: `card-${id % 37}` })));
    }
    const received = await Promise.all(
      clients.map(async (client) => {
        const got: number[] = [];
        for (let i = 0; i < ids.length; i++) {
          const message = await client.next<{ type: string; channel: string; seq: number; data: { id: number; cardId: string } }>();
          assert.equal(message.type, 'data');
          assert.equal(message.channel, 'fraud');
          assert.equal(message.seq, i + 1);
          assert.equal(message.data.cardId, `card-${message.data.id % 37}`);
          got.push(message.data.id);
        }
        await client.expectNothingPending();
        return got;
      }),
    );
    for (const got of received) assert.deepEqual(got, ids);
    assert.equal((await metrics.wsMessages.get()).values[0]?.value, 1000);

    await Promise.all(clients.map((c) => c.close()));
    await waitUntil(async () => (await metrics.wsClients.get()).values[0]?.value === 0);
  }));

test('publish rejects invalid channel names and unserialisable batches, sending nothing', () =>
  withServer(async (server, metrics) => {
    const client = await TestClient.connect(server);
    await client.subscribeSynced('fraud');
    assert.throws(() => server.publish('fraud/#', [{}]), ConfigError);
    assert.throws(
      () => server.publish('fraud', [{ id: 1 }, { id: 2n }]),
      (error: unknown) => error instanceof TributaryError && error.code === 'PUSH_SERIALISE' && /item 1/.test(error.message),
    );
    await client.expectNothingPending();
    assert.deepEqual((await metrics.wsMessages.get()).values, []);
    await client.close();
  }));

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
