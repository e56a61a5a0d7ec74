import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, type RawData } from 'ws';
import { ConfigError, TributaryError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { MAX_CHANNELS_PER_CLIENT } from '../../src/push/channel-sockets.ts';
import { PROTOCOL_ERRORS } from '../../src/push/protocol.ts';
import { type RunningPushServer, startPushServer } from '../../src/push/uws-push-server.ts';

/** A real `ws` client that queues every text frame so tests can await them in order. */
class TestClient {
  private readonly queue: string[] = [];
  private waiter: ((text: string) => void) | undefined;
  readonly closed: Promise<number>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: RawData) => this.push(data.toString()));
    this.closed = new Promise((resolve) => socket.once('close', (code) => resolve(code)));
  }

  static async connect(server: RunningPushServer): Promise<TestClient> {
    const socket = new WebSocket(`${server.url.replace('http:', 'ws:')}/ws`);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new TestClient(socket);
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** The next text frame as sent (raw JSON). */
  nextRaw(): Promise<string> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  async next(): Promise<unknown> {
    return JSON.parse(await this.nextRaw());
  }

  async subscribe(channel: string): Promise<void> {
    this.send({ type: 'subscribe', channel });
    assert.deepEqual(await this.next(), { type: 'subscribed', channel });
  }

  /**
   * Proves nothing else was queued for this client: frames on one socket arrive in order, so the
   * reply to a probe sent now comes after anything published before it.
   */
  async expectNothingPending(): Promise<void> {
    this.send({ type: 'probe' });
    assert.deepEqual(await this.next(), { type: 'error', error: PROTOCOL_ERRORS.unknownType });
  }

  close(): Promise<number> {
    this.socket.close();
    return this.closed;
  }

  private push(text: string): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(text);
    else this.queue.push(text);
  }
}

async function withServer(
  run: (server: RunningPushServer, metrics: Metrics) => Promise<void>,
  options: { maxPayloadLength?: number } = {},
): Promise<void> {
  const metrics = new Metrics();
  const server = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, metrics, ...options });
  try {
    await run(server, metrics);
  } finally {
    await server.close();
  }
}

test('subscribe is acknowledged', () =>
  withServer(async (server) => {
    const client = await TestClient.connect(server);
    client.send({ type: 'subscribe', channel: 'fraud' });
    assert.equal(await client.nextRaw(), '{"type":"subscribed","channel":"fraud"}');
    await client.close();
  }));

test('published items arrive as exact data messages, in order', () =>
  withServer(async (server) => {
    const client = await TestClient.connect(server);
    await client.subscribe('fraud');
    server.publish('fraud', [{ cardId: 'c1', probability: 0.91 }, { cardId: 'c2', probability: 0.05 }, 'text', 7, null]);
    assert.equal(await client.nextRaw(), '{"type":"data","channel":"fraud","data":{"cardId":"c1","probability":0.91}}');
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', data: { cardId: 'c2', probability: 0.05 } });
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', data: 'text' });
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', data: 7 });
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', data: null });
    await client.expectNothingPending();
    await client.close();
  }));

test('a client gets nothing from channels it has not subscribed to', () =>
  withServer(async (server) => {
    const fraud = await TestClient.connect(server);
    const other = await TestClient.connect(server);
    const idle = await TestClient.connect(server);
    await fraud.subscribe('fraud');
    await other.subscribe('other');
    server.publish('fraud', [{ id: 1 }]);
    server.publish('other', [{ id: 2 }]);
    assert.deepEqual(await fraud.next(), { type: 'data', channel: 'fraud', data: { id: 1 } });
    assert.deepEqual(await other.next(), { type: 'data', channel: 'other', data: { id: 2 } });
    await Promise.all([fraud.expectNothingPending(), other.expectNothingPending(), idle.expectNothingPending()]);
    await Promise.all([fraud.close(), other.close(), idle.close()]);
  }));

test('unsubscribe stops delivery on that channel only', () =>
  withServer(async (server) => {
    const client = await TestClient.connect(server);
    await client.subscribe('fraud');
    await client.subscribe('alerts');
    server.publish('fraud', [{ id: 1 }]);
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', data: { id: 1 } });
    client.send({ type: 'unsubscribe', channel: 'fraud' });
    assert.deepEqual(await client.next(), { type: 'unsubscribed', channel: 'fraud' });
    server.publish('fraud', [{ id: 2 }]);
    server.publish('alerts', [{ id: 3 }]);
    assert.deepEqual(await client.next(), { type: 'data', channel: 'alerts', data: { id: 3 } });
    await client.expectNothingPending();
    await client.close();
  }));

test('bad frames get error frames and the connection stays usable', () =>
  withServer(async (server) => {
    const client = await TestClient.connect(server);
    const cases: Array<[frame: unknown, error: string]> = [
      ['{not json', PROTOCOL_ERRORS.malformedJson],
      ['', PROTOCOL_ERRORS.malformedJson],
      ['[1,2]', PROTOCOL_ERRORS.notAnObject],
      ['null', PROTOCOL_ERRORS.notAnObject],
      ['"subscribe"', PROTOCOL_ERRORS.notAnObject],
      [{ type: 'publish', channel: 'fraud' }, PROTOCOL_ERRORS.unknownType],
      [{ channel: 'fraud' }, PROTOCOL_ERRORS.unknownType],
      [{ type: 'subscribe' }, PROTOCOL_ERRORS.invalidChannel],
      [{ type: 'subscribe', channel: '' }, PROTOCOL_ERRORS.invalidChannel],
      [{ type: 'subscribe', channel: 42 }, PROTOCOL_ERRORS.invalidChannel],
      [{ type: 'subscribe', channel: 'fraud/#' }, PROTOCOL_ERRORS.invalidChannel],
      [{ type: 'subscribe', channel: 'x'.repeat(65) }, PROTOCOL_ERRORS.invalidChannel],
      [{ type: 'unsubscribe', channel: 'a b' }, PROTOCOL_ERRORS.invalidChannel],
      [Buffer.from('{"type":"subscribe","channel":"fraud"}'), PROTOCOL_ERRORS.binary],
      [Buffer.from([0xff, 0x00, 0x13]), PROTOCOL_ERRORS.binary],
    ];
    for (const [frame, error] of cases) {
      client.send(frame);
      assert.deepEqual(await client.next(), { type: 'error', error }, `reply to ${String(frame)}`);
    }
    await client.subscribe('x'.repeat(64));
    await client.subscribe('fraud');
    server.publish('fraud', [{ ok: true }]);
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', data: { ok: true } });
    await client.close();
  }));

test('one connection may hold at most MAX_CHANNELS_PER_CLIENT subscriptions', () =>
  withServer(async (server) => {
    const client = await TestClient.connect(server);
    for (let i = 0; i < MAX_CHANNELS_PER_CLIENT; i++) await client.subscribe(`ch-${i}`);
    client.send({ type: 'subscribe', channel: 'one-too-many' });
    assert.deepEqual(await client.next(), { type: 'error', error: PROTOCOL_ERRORS.tooManyChannels });
    await client.subscribe('ch-0'); // already held: still acknowledged
    client.send({ type: 'unsubscribe', channel: 'ch-1' });
    assert.deepEqual(await client.next(), { type: 'unsubscribed', channel: 'ch-1' });
    await client.subscribe('one-too-many');
    await client.close();
  }));

test('random garbage never takes the server down', () =>
  withServer(async (server) => {
    const client = await TestClient.connect(server);
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256)));
      // Text frames must be valid UTF-8 (RFC 6455), so garbage text goes through a lossy decode.
      client.send(i % 2 === 0 ? bytes : bytes.toString('utf8'));
      const reply = (await client.next()) as { type: string };
      assert.equal(reply.type, 'error');
    }
    await client.subscribe('fraud');
    await client.close();
  }));

test('a frame over maxPayloadLength closes only that connection', () =>
  withServer(
    async (server) => {
      const big = await TestClient.connect(server);
      big.send(JSON.stringify({ type: 'subscribe', channel: 'fraud', pad: 'x'.repeat(2048) }));
      assert.equal(await big.closed, 1006);
      const next = await TestClient.connect(server);
      await next.subscribe('fraud');
      await next.close();
    },
    { maxPayloadLength: 1024 },
  ));

test('50 clients each receive all 1,000 items exactly, in order', () =>
  withServer(async (server, metrics) => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => TestClient.connect(server)));
    await Promise.all(clients.map((c) => c.subscribe('fraud')));
    assert.equal((await metrics.wsClients.get()).values[0]?.value, 50);

    const ids = Array.from({ length: 1000 }, (_, id) => id);
    for (let start = 0; start < ids.length; start += 100) {
      server.publish('fraud', ids.slice(start, start + 100).map((id) => ({ id, cardId: `card-${id % 37}` })));
    }
    const received = await Promise.all(
      clients.map(async (client) => {
        const got: number[] = [];
        for (let i = 0; i < ids.length; i++) {
          const message = (await client.next()) as { type: string; channel: string; data: { id: number; cardId: string } };
          assert.equal(message.type, 'data');
          assert.equal(message.channel, 'fraud');
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
    await client.subscribe('fraud');
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
