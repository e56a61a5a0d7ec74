import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Readiness } from '../../src/observability/readiness.ts';
import { readinessRoutes } from '../../src/push/http-routes.ts';
import { signPushToken } from '../../src/push/push-token.ts';
import { TestClient, metricValue, rejectedUpgrade, withServer } from './ws-test-client.ts';

const METRICS_TOKEN = 'metrics-token-canary-0123456789';
const SECRET = 'a-test-secret-of-at-least-32-bytes!';

test('with a metrics token, GET /metrics needs it as a bearer token; /healthz and /readyz stay open', () =>
  withServer(async (server) => {
    const get = (route: string, authorization?: string) => fetch(`${server.url}${route}`, authorization === undefined ? {} : { headers: { authorization } });
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${METRICS_TOKEN}`, METRICS_TOKEN]) {
      const response = await get('/metrics', authorization);
      assert.equal(response.status, 401, String(authorization));
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="tributary-metrics"');
      assert.equal(await response.text(), 'send Authorization: Bearer <TRIBUTARY_METRICS_TOKEN>');
    }
    const ok = await get('/metrics', `Bearer ${METRICS_TOKEN}`);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /^# HELP tributary_/m);
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/readyz')).status, 503); // open, and not ready: nothing started
  }, { metricsToken: METRICS_TOKEN, extraRoutes: readinessRoutes(new Readiness()) }));

test('one address may hold at most maxConnectionsPerIp WebSockets; the next upgrade gets 429 and is counted', () =>
  withServer(async (server, metrics) => {
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(server)));
    for (const client of clients) await client.subscribeSynced('fraud');
    assert.deepEqual(await rejectedUpgrade(server), { status: 429, body: 'too many connections from this address (at most 3)' });
    assert.deepEqual(await rejectedUpgrade(server), { status: 429, body: 'too many connections from this address (at most 3)' });
    assert.equal(await metricValue(metrics.wsRejectedUpgrades, { reason: 'ip_limit' }), 2);
    assert.equal(await metricValue(metrics.wsClients), 3);
    // A closed connection frees its slot.
    await clients[0]!.close();
    const again = await TestClient.connect(server);
    await again.subscribeSynced('fraud');
    server.publish('fraud', [{ n: 1 }]);
    assert.deepEqual(await again.next(), { type: 'data', channel: 'fraud', seq: 1, data: { n: 1 } });
    for (const client of [...clients.slice(1), again]) await client.close();
  }, { maxConnectionsPerIp: 3 }));

test('refused WebSocket upgrades and /metrics requests are recorded in the audit trail, without the tokens', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'push-audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'audit.jsonl');
  const audit = new AuditLog({ file, logger: silentLogger });
  const foreign = await signPushToken('another-secret-that-is-long-enough-canary', { channels: ['fraud'], expiresInSeconds: 60 });
  await withServer(async (server) => {
    assert.equal((await rejectedUpgrade(server)).status, 401);
    assert.equal((await rejectedUpgrade(server, { token: foreign })).status, 401);
    assert.equal((await rejectedUpgrade(server, { token: await signPushToken(SECRET, { channels: ['fraud'], expiresInSeconds: 60 }), origin: 'https://evil.example.com' })).status, 403);
    assert.equal((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer wrong-canary-token-123' } })).status, 401);
  }, { auth: { secret: SECRET, origins: ['https://dash.example.com'] }, metricsToken: METRICS_TOKEN, audit });
  await audit.close();
  const text = await readFile(file, 'utf8');
  assert.doesNotMatch(text, /canary|eyJ/);
  const entries = text.trimEnd().split('\n').map((line) => JSON.parse(line) as { action: string; principal: string; outcome: string; reason: string; target: string; details: { remoteAddress: string; origin?: string } });
  assert.deepEqual(
    entries.map((e) => [e.action, e.principal, e.outcome, e.reason, e.target, e.details.origin]),
    [
      ['ws.auth', 'anonymous', 'refused', 'token_missing', '/ws', undefined],
      ['ws.auth', 'anonymous', 'refused', 'bad_signature', '/ws', undefined],
      ['ws.auth', 'anonymous', 'refused', 'origin', '/ws', 'https://evil.example.com'],
      ['metrics.auth', 'anonymous', 'refused', 'bad_token', '/metrics', undefined],
    ],
  );
  for (const entry of entries) assert.match(entry.details.remoteAddress, /127\.0\.0\.1|::1|0000:0000:0000:0000:0000:ffff:7f00:0001/);
});
