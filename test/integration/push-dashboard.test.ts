import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { chromium } from 'playwright-core';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { startPushServer } from '../../src/push/uws-push-server.ts';

/**
 * Drives the real dashboard in headless Chromium (Debian's, through playwright-core): the page must
 * subscribe, render what is published (as text, never as HTML), and reconnect after a restart.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The page's globals as the functions evaluated in the browser use them (no DOM types here). */
declare const document: { querySelectorAll(selector: string): ArrayLike<{ cells: ArrayLike<{ textContent: string | null }> }> & { length: number } };
declare const window: { pwned?: number };

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

test('the dashboard subscribes, renders predictions as text, and reconnects after a server restart', { timeout: 90_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}; install it (apt-get install chromium) or set CHROMIUM_PATH`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  const metrics = new Metrics();
  const relay = await startRelay();
  let server = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, metrics, topology: 'card-fraud' });
  relay.target.port = server.port;
  t.after(async () => {
    await browser.close();
    await server.close();
    await relay.close();
  });
  const page = await browser.newPage();
  const topKeys = () => page.$$eval('#top-keys tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].slice(0, 2).map((cell) => cell.textContent)));
  await page.goto(`http://127.0.0.1:${relay.port}/?channel=fraud-test`);
  await page.waitForSelector('#status[data-state="live"]');
  assert.equal(await page.textContent('#channel'), 'fraud-test');

  const predictions = Array.from({ length: 60 }, (_, i) => ({
    cardId: `card-${i}`,
    windowEnd: Date.UTC(2025, 0, 1, 12, 0, i),
    probability: i === 7 ? 0.99 : i === 8 ? 0.75 : 0.01 * (i % 50),
    model: 'fraud-lr@1',
  }));
  predictions.push({ ...predictions[0]!, cardId: '<img src=x onerror="window.pwned=1">', probability: 0.5 });
  server.publish('fraud', predictions.map((p) => ({ ...p, probability: 1 }))); // another channel: ignored
  server.publish('fraud-test', predictions);

  // Rendered once a second: the ten highest scores, the histogram over all 61.
  await page.waitForFunction(() => document.querySelectorAll('#top-keys tr').length === 10);
  assert.deepEqual((await topKeys()).slice(0, 4), [
    ['card-7', '99.0%'],
    ['card-8', '75.0%'],
    ['<img src=x onerror="window.pwned=1">', '50.0%'],
    ['card-49', '49.0%'],
  ]);
  assert.equal(await page.getAttribute('#chart-scores', 'data-points'), '61');
  assert.equal(await page.evaluate(() => document.querySelectorAll('img').length + (window.pwned ?? 0)), 0, 'data is shown as text, never parsed as HTML');

  // Restart behind the relay: the page shows the outage, then resubscribes by itself.
  await server.close();
  await page.waitForSelector('#status[data-state="down"]');
  server = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, metrics });
  relay.target.port = server.port;
  await page.waitForSelector('#status[data-state="live"]', { timeout: 20_000 });
  // Published until the page has resubscribed (a publish before it would reach nobody).
  const publisher = setInterval(() => server.publish('fraud-test', [{ cardId: 'after-restart', windowEnd: Date.UTC(2025, 0, 1, 13), probability: 0.995 }]), 200);
  try {
    await page.waitForFunction(() => document.querySelectorAll('#top-keys tr')[0]?.cells[0]?.textContent === 'after-restart', undefined, { timeout: 10_000 });
  } finally {
    clearInterval(publisher);
  }
});
