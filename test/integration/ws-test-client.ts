/**
 * A real `ws` client for the push server tests: queues every text frame so tests can await them
 * in order, and reports how the connection closed (code and reason) or why the upgrade failed.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { PROTOCOL_ERRORS } from '../../src/push/protocol.ts';
import { type PushServerOptions, type RunningPushServer, startPushServer } from '../../src/push/uws-push-server.ts';

export interface ConnectOptions {
  token?: string;
  origin?: string;
}

/** Runs `run` against a fresh server on a free port, closing it afterwards. */
export async function withServer(
  run: (server: RunningPushServer, metrics: Metrics) => Promise<void>,
  options: Partial<PushServerOptions> = {},
): Promise<void> {
  const metrics = new Metrics();
  const server = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, metrics, ...options });
  try {
    await run(server, metrics);
  } finally {
    await server.close();
  }
}

/** The value of a counter or gauge with exactly these labels (0 when never set). */
export async function metricValue(metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  const match = values.find((v) => Object.keys(labels).length === Object.keys(v.labels).length && Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return match?.value ?? 0;
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function wsUrl(server: RunningPushServer, token?: string): string {
  const base = `${server.url.replace('http:', 'ws:')}/ws`;
  return token === undefined ? base : `${base}?token=${encodeURIComponent(token)}`;
}

/** Tries an upgrade that should fail; resolves with the HTTP status and body. */
export function rejectedUpgrade(server: RunningPushServer, options: ConnectOptions = {}): Promise<{ status: number; body: string }> {
  const socket = new WebSocket(wsUrl(server, options.token), options.origin === undefined ? {} : { headers: { Origin: options.origin } });
  return new Promise((resolve, reject) => {
    socket.once('open', () => reject(new Error('the upgrade was accepted')));
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    socket.once('error', () => {}); // follows the unexpected response
  });
}

export class TestClient {
  private readonly queue: string[] = [];
  private waiter: ((text: string) => void) | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: RawData) => this.push(data.toString()));
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async connect(server: RunningPushServer, options: ConnectOptions = {}): Promise<TestClient> {
    const socket = new WebSocket(wsUrl(server, options.token), options.origin === undefined ? {} : { headers: { Origin: options.origin } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new TestClient(socket);
  }

  /** The client's TCP socket: pause() it to stop reading (the kernel buffers fill, then the server's). */
  get tcp(): Socket {
    return (this.socket as unknown as { _socket: Socket })._socket;
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /**
   * The next text frame as sent (raw JSON). The wait is long because the suite runs files in
   * parallel on 2 cores beside Kafka and ClickHouse: a CI run once waited over 5 s for a
   * `subscribed` (ws-auth); no test expects this timeout to fire.
   */
  nextRaw(timeoutMs = 15_000): Promise<string> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame within ${timeoutMs} ms`)), timeoutMs);
      this.waiter = (text) => {
        clearTimeout(timer);
        resolve(text);
      };
    });
  }

  async next<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
    return JSON.parse(await this.nextRaw(timeoutMs)) as T;
  }

  /** Next frame that is not a heartbeat. */
  async nextNonHeartbeat<T = Record<string, unknown>>(): Promise<T> {
    for (;;) {
      const frame = await this.next<T & { type: string }>();
      if (frame.type !== 'heartbeat') return frame;
    }
  }

  /** Subscribes and checks the ack; resolves with it. Catch-up frames (and `synced`) follow it. */
  async subscribe(channel: string, extra: Record<string, unknown> = {}): Promise<{ seq: number; epoch: string }> {
    this.send({ type: 'subscribe', channel, ...extra });
    const ack = await this.next<{ type: string; channel: string; seq: number; epoch: string }>();
    assert.equal(ack.type, 'subscribed', JSON.stringify(ack));
    assert.equal(ack.channel, channel);
    return ack;
  }

  /** Subscribes and reads through the catch-up; resolves with the catch-up's data frames. */
  async subscribeSynced(channel: string, extra: Record<string, unknown> = {}): Promise<Array<Record<string, unknown>>> {
    const ack = await this.subscribe(channel, extra);
    const frames: Array<Record<string, unknown>> = [];
    for (;;) {
      const frame = await this.next();
      if (frame.type === 'synced') {
        assert.deepEqual(frame, { type: 'synced', channel, seq: ack.seq });
        return frames;
      }
      frames.push(frame);
    }
  }

  /**
   * Proves nothing else was queued for this client: frames on one socket arrive in order, so the
   * reply to a probe sent now comes after anything published before it.
   */
  async expectNothingPending(): Promise<void> {
    this.send({ type: 'probe' });
    assert.deepEqual(await this.next(), { type: 'error', code: 'unknown_type', error: PROTOCOL_ERRORS.unknown_type });
  }

  async close(): Promise<number> {
    this.socket.close();
    return (await this.closed).code;
  }

  private push(text: string): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(text);
    else this.queue.push(text);
  }
}
