import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { startPushServer } from '../../src/push/uws-push-server.ts';

/**
 * Drives the real dashboard in headless Chromium over the DevTools protocol (no playwright needed):
 * the page's script must subscribe, render what is published, and reconnect after a restart.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A minimal DevTools client for one page: evaluate expressions, that is all the test needs. */
class Page {
  private nextId = 1;
  private readonly pending = new Map<number, (result: { result?: { value?: unknown }; exceptionDetails?: unknown }) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: never };
      if (message.id !== undefined) this.pending.get(message.id)?.(message.result ?? {});
    });
  }

  static async open(chromium: Chromium, url: string): Promise<Page> {
    const response = await fetch(`${chromium.endpoint}/json/new?${encodeURIComponent(url)}`, { method: 'PUT' });
    const { webSocketDebuggerUrl } = (await response.json()) as { webSocketDebuggerUrl: string };
    const socket = new WebSocket(webSocketDebuggerUrl);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return new Page(socket);
  }

  async evaluate<T>(expression: string): Promise<T> {
    const id = this.nextId++;
    const reply = new Promise<{ result?: { value?: unknown }; exceptionDetails?: unknown }>((resolve) => this.pending.set(id, resolve));
    this.socket.send(JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }));
    const { result, exceptionDetails } = await reply;
    this.pending.delete(id);
    if (exceptionDetails !== undefined) throw new Error(`page threw: ${JSON.stringify(exceptionDetails)}`);
    return result?.value as T;
  }

  /** Polls until the expression returns `expected` (compared as JSON), or fails with the last value. */
  async waitFor(expression: string, expected: unknown, timeoutMs = 8000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      last = await this.evaluate(expression);
      if (JSON.stringify(last) === JSON.stringify(expected)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(last, expected, `timed out waiting for ${expression}`);
  }

  close(): void {
    this.socket.close();
  }
}

interface Chromium {
  endpoint: string;
  process: ChildProcess;
  profile: string;
}

async function launchChromium(): Promise<Chromium> {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}; install it (apt-get install chromium) or set CHROMIUM_PATH`);
  const profile = mkdtempSync(join(tmpdir(), 'tributary-chromium-'));
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'];
  const child = spawn(CHROMIUM, flags, { stdio: ['ignore', 'ignore', 'pipe'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /DevTools listening on ws:\/\/([^/\s]+)\//.exec(stderr);
      if (match) resolve(`http://${match[1]}`);
    });
    child.once('exit', (code) => reject(new Error(`chromium exited with ${code}: ${stderr}`)));
  });
  return { endpoint, process: child, profile };
}

/**
 * A TCP relay standing in for a load balancer, so the page keeps one address across a server
 * restart. (Restarting uWS on the same port right away fails: it binds without SO_REUSEADDR and the
 * old connections sit in TIME_WAIT for 60 s.)
 */
async function startRelay(): Promise<{ port: number; target: { port: number }; close: () => Promise<void> }> {
  const target = { port: 0 };
  const open = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(target.port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const { port } = relay.address() as net.AddressInfo;
  return {
    port,
    target,
    close: () => {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => relay.close(() => resolve()));
    },
  };
}

const text = (selector: string) => `document.querySelector(${JSON.stringify(selector)})?.textContent ?? null`;
const columnTexts = (selector: string, column: number) =>
  `[...document.querySelectorAll(${JSON.stringify(selector)})].map((row) => row.cells[${column}]?.textContent ?? '')`;

test('the dashboard subscribes, renders predictions, and reconnects after a server restart', async () => {
  const chromium = await launchChromium();
  const metrics = new Metrics();
  const relay = await startRelay();
  let server = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, metrics, topology: 'card-fraud' });
  relay.target.port = server.port;
  let page: Page | undefined;
  try {
    page = await Page.open(chromium, `http://127.0.0.1:${relay.port}/?channel=fraud-test`);
    await page.waitFor(text('#status-text'), 'live · subscribed');
    await page.waitFor(text('#channel'), 'fraud-test');

    const predictions = Array.from({ length: 60 }, (_, i) => ({
      cardId: `card-${i}`,
      windowEnd: Date.UTC(2025, 0, 1, 12, 0, i),
      probability: i === 7 ? 0.99 : i === 8 ? 0.75 : 0.01 * (i % 50),
      model: 'fraud-lr@1',
      count1m: i,
      sum1m: i * 10.5,
      max1m: i * 2,
    }));
    predictions.push({ ...predictions[0], cardId: '<img src=x onerror="window.pwned=1">', probability: 0.2 });
    server.publish('fraud', predictions.map((p) => ({ ...p, probability: 1 }))); // other channel: ignored
    server.publish('fraud-test', predictions);

    await page.waitFor(text('#total'), '61');
    assert.equal(await page.evaluate(text('#high')), '2');
    assert.equal(await page.evaluate(text('#cards')), '61');
    assert.equal(await page.evaluate('document.querySelectorAll("#latest tr").length'), 50);
    assert.deepEqual(
      await page.evaluate('[...document.querySelectorAll("#latest-head th")].map((th) => th.textContent)'),
      ['Window end', 'Card', 'Probability', 'count1m', 'sum1m', 'max1m'],
    );
    // Newest first; data is shown as text, never parsed as HTML.
    const firstRow = await page.evaluate<string[]>('[...document.querySelector("#latest tr").cells].map((c) => c.textContent)');
    assert.deepEqual(firstRow.slice(1), ['<img src=x onerror="window.pwned=1">', '0.200', '0', '0.00', '0.00']);
    assert.equal(await page.evaluate('document.querySelectorAll("img").length + (window.pwned ?? 0)'), 0);
    assert.deepEqual((await page.evaluate<string[]>(columnTexts('#latest tr', 1))).slice(1, 3), ['card-59', 'card-58']);
    assert.deepEqual(await page.evaluate(columnTexts('#top tr', 1)), [
      'card-7', 'card-8', 'card-49', 'card-48', 'card-47', 'card-46', 'card-45', 'card-44', 'card-43', 'card-42',
    ]);
    assert.deepEqual((await page.evaluate<string[]>(columnTexts('#top tr', 2))).slice(0, 2), ['0.990', '0.750']);

    // Restart behind the relay: the page shows the outage, then resubscribes by itself.
    await server.close();
    await page.waitFor('document.getElementById("status").dataset.state', 'down');
    server = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, metrics });
    relay.target.port = server.port;
    await page.waitFor(text('#status-text'), 'live · subscribed');
    server.publish('fraud-test', [{ cardId: 'after-restart', windowEnd: Date.UTC(2025, 0, 1, 13), probability: 0.5 }]);
    await page.waitFor(text('#total'), '62');
    assert.equal((await page.evaluate<string[]>(columnTexts('#latest tr', 1)))[0], 'after-restart');
  } finally {
    page?.close();
    await server.close();
    await relay.close();
    chromium.process.kill();
    await new Promise((resolve) => chromium.process.once('exit', resolve));
    // Chromium helper processes may still be writing the profile for a while after exit (longer
    // on a loaded machine); the temporary profile is no part of what this test asserts.
    try {
      rmSync(chromium.profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
    } catch (error) {
      console.warn(`could not remove the chromium profile ${chromium.profile}: ${String(error)}`);
    }
  }
});
