import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../../src/observability/logger.ts';
import { registerStateRoute } from '../../src/push/state-route.ts';
import { startPushServer, type RunningPushServer } from '../../src/push/uws-push-server.ts';
import { RedisKeyValueStore } from '../../src/state/redis-store.ts';
import { requireService } from '../helpers/services.ts';

/**
 * GET /state, the feature store's lookup for other services, on a real push server over the real
 * Redis: the value with its event time and freshness, stale while a writer has pending updates,
 * 404 for a missing key, 400 without one, 401 without the token, 503 when the store fails.
 */
const TOKEN = 'state-token-0123456789abcdef';
const prefix = `staterouting:${randomBytes(4).toString('hex')}:`;
let store: RedisKeyValueStore;
let broken: RedisKeyValueStore;
let open: RunningPushServer;
let guarded: RunningPushServer;

before(async () => {
  const url = requireService('REDIS_URL');
  store = await RedisKeyValueStore.connect(url, { prefix, logger: silentLogger });
  broken = await RedisKeyValueStore.connect(url, { prefix, logger: silentLogger });
  await broken.close(); // every read now fails
  open = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, extraRoutes: (app) => registerStateRoute(app, { store: async () => store, logger: silentLogger, token: null }) });
  guarded = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, extraRoutes: (app) => registerStateRoute(app, { store: async () => broken, logger: silentLogger, token: TOKEN }) });
});

after(async () => {
  await open?.close();
  await guarded?.close();
  await store?.close();
});

async function get(server: RunningPushServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('a stored key: its value, event time, write time and age; stale while a writer has pending updates', async () => {
  const updatedAt = Date.now() - 1_500;
  await store.setMany([['features:card-features:v1:card-7', { value: { count1m: 3, sum1m: 42.5 }, eventTime: 1_764_806_459_999, updatedAt }]]);
  const key = encodeURIComponent('features:card-features:v1:card-7');
  const fresh = await get(open, `/state?key=${key}`);
  assert.equal(fresh.status, 200);
  const { ageMs, ...rest } = fresh.body;
  assert.deepEqual(rest, { key: 'features:card-features:v1:card-7', found: true, value: { count1m: 3, sum1m: 42.5 }, eventTime: 1_764_806_459_999, updatedAt, stale: false });
  assert.ok(typeof ageMs === 'number' && ageMs >= 1_500 && ageMs < 10_000, `ageMs ${String(ageMs)}`);
  store.setPending('features sink', true);
  assert.equal((await get(open, `/state?key=${key}`)).body.stale, true);
  store.setPending('features sink', false);
  assert.equal((await get(open, `/state?key=${key}`)).body.stale, false);
});

test('a missing key is 404 with found: false; no key is 400', async () => {
  assert.deepEqual(await get(open, '/state?key=features%3Anone'), { status: 404, body: { key: 'features:none', found: false, stale: false } });
  const noKey = await get(open, '/state');
  assert.equal(noKey.status, 400);
  assert.equal(noKey.body.code, 'BAD_REQUEST');
});

test('with a token: 401 without it or with another; with it, a store that cannot be read is 503 and retriable', async () => {
  assert.equal((await get(guarded, '/state?key=k')).status, 401);
  assert.equal((await get(guarded, '/state?key=k', { authorization: 'Bearer not-the-token-at-all-000000' })).status, 401);
  const failed = await get(guarded, '/state?key=k', { authorization: `Bearer ${TOKEN}` });
  assert.equal(failed.status, 503);
  assert.equal(failed.body.code, 'UNAVAILABLE');
  assert.equal(failed.body.retriable, true);
});
