import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { ConfigError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { RedisKeyValueStore } from '../../src/state/redis-store.ts';
import { requireService, uniqueName } from '../helpers/services.ts';

/**
 * The hot-state store's batch writes on the real Redis: every key lands with its value and its
 * expiry, however the batch is cut into script calls (500 keys, or 64 KiB of values, a call), and
 * a user that may not run them fails at connect.
 */

async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

async function removeUnder(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
}

test('setMany writes every key with its JSON value and expiry, across call boundaries and large values', { timeout: 60_000 }, async () => {
  const url = requireService('REDIS_URL');
  const prefix = `${uniqueName('store-writes')}:`;
  const raw = new Redis(url);
  const store = await RedisKeyValueStore.connect(url, { prefix, logger: silentLogger });
  try {
    // 1,234 keys: three calls of 500, 500 and 234.
    const entries: Array<[string, { card: string; n: number; amount: number }]> = [];
    for (let i = 0; i < 1_234; i++) entries.push([`card:${i}`, { card: `c${i}`, n: i, amount: i / 8 }]);
    await store.setMany(entries, 60_000);
    const written = (await keysUnder(raw, `${prefix}card:`)).length;
    assert.equal(written, 1_234);
    for (const i of [0, 499, 500, 999, 1_000, 1_233]) {
      assert.equal(await raw.get(`${prefix}card:${i}`), `{"card":"c${i}","n":${i},"amount":${i / 8}}`);
      const ttl = await raw.pttl(`${prefix}card:${i}`);
      assert.ok(ttl > 0 && ttl <= 60_000, `card:${i} expires in ${ttl} ms`);
    }

    // 600 values of ~500 characters: calls of ~130 keys by the 64 KiB bound, every key whole.
    const medium = Array.from({ length: 600 }, (_, i) => [`medium:${i}`, `${i}:`.padEnd(500, 'm')] as [string, string]);
    await store.setMany(medium, 60_000);
    assert.equal((await keysUnder(raw, `${prefix}medium:`)).length, 600);
    for (const i of [0, 129, 130, 131, 599]) assert.equal(await raw.get(`${prefix}medium:${i}`), JSON.stringify(`${i}:`.padEnd(500, 'm')));

    // Values of 400,000 characters, each over the bound on its own: one a call.
    const big = ['a', 'b', 'c'].map((letter) => [`big:${letter}`, letter.repeat(400_000)] as [string, string]);
    await store.setMany(big, 0);
    for (const [key, value] of big) {
      assert.equal(await raw.strlen(`${prefix}${key}`), value.length + 2, `${key} holds the whole JSON string`);
      assert.equal(await raw.pttl(`${prefix}${key}`), -1, `${key}: ttl 0 means no expiry`);
    }

    // A second write of the same keys replaces the values.
    await store.setMany([['card:7', { card: 'c7', n: 70, amount: 1 }]], 60_000);
    assert.equal(await raw.get(`${prefix}card:7`), '{"card":"c7","n":70,"amount":1}');
    assert.deepEqual(await store.get(`card:7`), { card: 'c7', n: 70, amount: 1 });
  } finally {
    await store.close();
    await removeUnder(raw, prefix);
    await raw.quit();
  }
});

test('a user that may write keys but not run scripts, or not under the prefix, fails at connect with a ConfigError naming REDIS_USERNAME', { timeout: 60_000 }, async () => {
  const url = requireService('REDIS_URL');
  const admin = new Redis(url);
  const prefix = `${uniqueName('store-acl')}:`;
  const noScripts = uniqueName('noscripts');
  const otherKeys = uniqueName('otherkeys');
  const password = uniqueName('pw');
  await admin.call('ACL', 'SETUSER', noScripts, 'on', `>${password}`, `~${prefix}*`, '+@read', '+@write', '+@connection', '+info');
  await admin.call('ACL', 'SETUSER', otherKeys, 'on', `>${password}`, '~elsewhere:*', '+@read', '+@write', '+@connection', '+@scripting', '+info');
  try {
    for (const username of [noScripts, otherKeys]) {
      const attempt = RedisKeyValueStore.connect({ url, security: { username, password } }, { prefix, logger: silentLogger });
      await assert.rejects(attempt, (error: unknown) => {
        assert.ok(error instanceof ConfigError, `${username}: ${String(error)}`);
        assert.match(error.message, /REDIS_USERNAME/);
        assert.match(error.message, /NOPERM/);
        assert.ok(!error.message.includes(password), 'the password is not in the message');
        return true;
      });
    }
    assert.deepEqual(await keysUnder(admin, prefix), [], 'nothing was written');
  } finally {
    await admin.call('ACL', 'DELUSER', noScripts, otherKeys);
    await admin.quit();
  }
});
