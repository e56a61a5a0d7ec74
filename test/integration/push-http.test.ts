import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { ConfigError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { type PushServerOptions, startPushServer } from '../../src/push/uws-push-server.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function start(options: Partial<PushServerOptions> = {}) {
  return startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, ...options });
}

async function openSubscribed(url: string, channel: string): Promise<WebSocket> {
  const socket = new WebSocket(`${url.replace('http:', 'ws:')}/ws`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'subscribe', channel }));
  await new Promise((resolve) => socket.once('message', resolve));
  return socket;
}

test('GET / serves the self-contained dashboard that connects to /ws', async () => {
  const server = await start({ topology: '<card-fraud>' });
  try {
    const response = await fetch(`${server.url}/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(response.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
    const html = await response.text();
    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(html.includes('/ws'));
    assert.ok(html.includes('tributary.stats'), 'the bundled script subscribes to the stats channel');
    assert.ok(html.includes('.uplot'), "uPlot's styles are inlined");
    assert.ok(html.includes('<title>Tributary · &lt;card-fraud&gt;</title>'));
    assert.ok(!html.includes('<card-fraud>'));
    // Self-contained (works offline): no external scripts, styles or fonts.
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|url\(\s*['"]?https?:/);
  } finally {
    await server.close();
  }
});

test('GET /metrics serves the registry with the exact message count', async () => {
  const metrics = new Metrics();
  const server = await start({ metrics });
  const client = await openSubscribed(server.url, 'fraud');
  try {
    server.publish('fraud', [{ id: 1 }, { id: 2 }, { id: 3 }]);
    server.publish('quiet', [{ id: 4 }, { id: 5 }]); // no subscribers: counted, not serialised
    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), metrics.registry.contentType);
    const lines = (await response.text()).split('\n');
    assert.ok(lines.includes('# TYPE tributary_websocket_messages_total counter'));
    assert.ok(lines.includes('tributary_websocket_messages_total{channel="fraud"} 3'));
    assert.ok(lines.includes('tributary_websocket_messages_total{channel="quiet"} 2'));
    assert.ok(lines.includes('tributary_websocket_clients 1'));
  } finally {
    client.close();
    await server.close();
  }
});

test('GET /healthz, 404s, /metrics without metrics, and extra routes', async () => {
  const server = await start({
    extraRoutes: (app) => app.get('/version', (res) => void res.end('0.1.0')),
  });
  try {
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok');
    assert.equal(await (await fetch(`${server.url}/version`)).text(), '0.1.0');
    for (const [path, method] of [['/nope', 'GET'], ['/ws', 'GET'], ['/', 'POST'], ['/healthz/x', 'GET']] as const) {
      const response = await fetch(`${server.url}${path}`, { method });
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal(await response.text(), 'not found');
    }
    const metrics = await fetch(`${server.url}/metrics`);
    assert.equal(metrics.status, 404);
    assert.equal(await metrics.text(), 'metrics are not enabled on this server');
  } finally {
    await server.close();
  }
});

test('a port in use fails with a ConfigError naming the port and the fix', async () => {
  const first = await start();
  try {
    await assert.rejects(start({ port: first.port }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.field, 'port');
      assert.equal(error.retriable, false);
      assert.ok(error.message.includes(`cannot listen on port ${first.port} of 127.0.0.1`));
      assert.ok(error.message.includes(`Fix: give the push server a free port`));
      return true;
    });
  } finally {
    await first.close();
  }
});

test('listenRetryMs waits for a busy port to become free', async () => {
  const holder = await start();
  setTimeout(() => void holder.close(), 300);
  const startedAt = Date.now();
  const server = await start({ port: holder.port, listenRetryMs: 5000 });
  try {
    assert.equal(server.port, holder.port);
    assert.ok(Date.now() - startedAt >= 250, 'bound only after the holder closed');
    assert.equal(await (await fetch(`${server.url}/healthz`)).text(), 'ok');
  } finally {
    await server.close();
  }
});

test('invalid options are ConfigErrors', async () => {
  await assert.rejects(start({ port: 70000 }), { name: 'ConfigError', field: 'port' });
  await assert.rejects(start({ port: 1.5 }), { name: 'ConfigError', field: 'port' });
  await assert.rejects(start({ idleTimeoutSeconds: 3 }), { name: 'ConfigError', field: 'idleTimeoutSeconds' });
  await assert.rejects(start({ maxPayloadLength: 0 }), { name: 'ConfigError', field: 'maxPayloadLength' });
  await assert.rejects(start({ maxBackpressureBytes: 10 }), { name: 'ConfigError', field: 'maxBackpressureBytes' });
  await assert.rejects(start({ listenRetryMs: -1 }), { name: 'ConfigError', field: 'listenRetryMs' });
});

test('close() ends clients with 1001, releases the port, and is idempotent', async () => {
  const metrics = new Metrics();
  const server = await start({ metrics });
  const client = await openSubscribed(server.url, 'fraud');
  const closed = new Promise<number>((resolve) => client.once('close', resolve));
  await server.close();
  assert.equal(await closed, 1001);
  await server.close();
  server.publish('fraud', [{ late: true }]); // after close: dropped, not a crash
  assert.equal((await metrics.wsClients.get()).values[0]?.value, 0);
  await assert.rejects(fetch(`${server.url}/healthz`), TypeError);
  // The port is released by the time close() resolves, even though a client was connected.
  const restarted = await start({ port: server.port });
  assert.equal(restarted.port, server.port);
  await restarted.close();
});

test('a process exits on its own after close(), with clients and keep-alive HTTP still connected', async () => {
  const script = `
    import { startPushServer } from './src/push/uws-push-server.ts';
    import { silentLogger } from './src/observability/logger.ts';
    import { WebSocket } from 'ws';
    import net from 'node:net';
    const server = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger });
    // A raw keep-alive HTTP connection: unlike fetch's pooled sockets it holds the process open.
    const http = net.connect(server.port, '127.0.0.1');
    http.write('GET /healthz HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n');
    await new Promise((resolve) => http.once('data', resolve));
    http.once('close', () => console.log('http closed'));
    const client = new WebSocket(server.url.replace('http:', 'ws:') + '/ws');
    await new Promise((resolve) => client.once('open', resolve));
    client.once('close', (code) => console.log('client closed', code));
    await server.close();
    console.log('server closed');
  `;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', script],
      { cwd: repoRoot, timeout: 6_000 }, // uWS's own HTTP idle timeout (~10 s) must not be what ends it
      (_error, out, err) => resolve({ code: child.exitCode, stdout: out, stderr: err }),
    );
  });
  assert.equal(code, 0, stderr);
  assert.deepEqual(stdout.split('\n').sort(), ['', 'client closed 1001', 'http closed', 'server closed']);
});

test('startPushServer refuses the slow ws fallback of uWebSockets.js', async () => {
  const script = `
    import { startPushServer } from './src/push/uws-push-server.ts';
    import { silentLogger } from './src/observability/logger.ts';
    await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger }).then(
      () => console.log('started'),
      (error) => console.log(error.name, error.code),
    );
  `;
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', script],
      { cwd: repoRoot, timeout: 10_000, env: { ...process.env, UWS_USE_FALLBACK: '1' } },
      (error, out) => (error ? reject(error) : resolve(out)),
    );
  });
  // The package prints its own fallback notice first; ours is the last line.
  assert.equal(stdout.trim().split('\n').at(-1), 'TributaryError UWS_NOT_NATIVE');
});
