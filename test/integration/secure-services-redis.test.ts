import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { secureServices, type SecureUser } from '../helpers/secure-services.ts';
import { uniqueName } from '../helpers/services.ts';

// The Redis with ACL users and TLS that scripts/services.sh starts next to the plain one, driven
// by ioredis alone (no src/ code).

/** A client that fails instead of reconnecting or queueing: each refusal surfaces once. */
function client(url: string, user: SecureUser | undefined, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    ...(user ? { username: user.name, password: user.password() } : {}),
    lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, ...extra,
  });
}

async function using<T>(redis: Redis, body: (redis: Redis) => Promise<T>): Promise<T> {
  try {
    await redis.connect();
    return await body(redis);
  } finally {
    redis.disconnect();
  }
}

/** Connects a client that must be refused; returns the error it reported (connect() itself
 * only says "Connection is closed."). */
async function refusal(redis: Redis): Promise<Error & { code?: string }> {
  const errors: Error[] = [];
  redis.on('error', (error: Error) => errors.push(error));
  await assert.rejects(redis.connect());
  redis.disconnect();
  assert.ok(errors.length > 0, 'the refused connection reported no error');
  return errors[0]!;
}

const replyError = (prefix: string) => (error: Error) => {
  assert.equal(error.name, 'ReplyError', error.message);
  assert.ok(error.message.startsWith(prefix), `expected ${prefix}, got: ${error.message}`);
  return true;
};

test('tributary runs the commands the engine uses (SET PX, GET, pipelines, HSET/HGET, EVAL) and nothing @dangerous', { timeout: 60_000 }, async () => {
  const { redis } = secureServices();
  const key = uniqueName('tributary:secure');
  const value = randomBytes(12).toString('hex');
  await using(client(redis.url, redis.tributary), async (r) => {
    assert.equal(await r.set(key, value, 'PX', 60_000), 'OK');
    assert.equal(await r.get(key), value);
    const results = await r.pipeline().set(`${key}:p`, 'x', 'PX', 60_000).hset(`${key}:h`, 'offset', '7', 'data', value).exec();
    assert.deepEqual(results, [[null, 'OK'], [null, 2]]);
    assert.equal(await r.hget(`${key}:h`, 'data'), value);
    const stored = await r.eval("return redis.call('HGET', KEYS[1], 'offset')", 1, `${key}:h`);
    assert.equal(stored, '7');
    await assert.rejects(r.flushall(), replyError('NOPERM'));
    await assert.rejects(r.config('GET', 'requirepass'), replyError('NOPERM'));
    assert.equal(await r.del(key, `${key}:p`, `${key}:h`), 3);
  });
});

test('the default user is off: without credentials NOAUTH, AUTH default WRONGPASS', { timeout: 60_000 }, async () => {
  const { redis } = secureServices();
  // ioredis' default handshake (HELLO 3) without credentials:
  const anonymous = await refusal(client(redis.url, undefined));
  assert.ok(replyError('NOAUTH')(anonymous));
  // RESP2 sends no HELLO, so each command meets the server's answer:
  await using(client(redis.url, undefined, { protocol: 2, enableReadyCheck: false }), async (r) => {
    await assert.rejects(r.get('tributary:anything'), replyError('NOAUTH'));
    await assert.rejects(r.call('AUTH', 'default', 'any-password'), replyError('WRONGPASS'));
    await assert.rejects(r.call('AUTH', 'tributary', 'wrong-password'), replyError('WRONGPASS'));
  });
  const wrong = await refusal(client(redis.url, { ...redis.tributary, password: () => 'wrong-password' }));
  assert.ok(replyError('WRONGPASS')(wrong));
});

test('reader reads tributary:* keys only and cannot write (NOPERM)', { timeout: 60_000 }, async () => {
  const { redis } = secureServices();
  const key = `${redis.readerKeyPrefix}${uniqueName('secure')}`;
  const outside = uniqueName('other');
  const value = randomBytes(12).toString('hex');
  await using(client(redis.url, redis.tributary), async (writer) => {
    await writer.set(key, value, 'PX', 60_000);
    await writer.set(outside, value, 'PX', 60_000);
    try {
      await using(client(redis.url, redis.reader), async (r) => {
        assert.equal(await r.get(key), value);
        assert.deepEqual(await r.mget(key, `${key}:missing`), [value, null]);
        await assert.rejects(r.set(key, 'changed'), replyError('NOPERM'));
        await assert.rejects(r.del(key), replyError('NOPERM'));
        await assert.rejects(r.get(outside), replyError('NOPERM'));
      });
      assert.equal(await writer.get(key), value);
    } finally {
      await writer.del(key, outside);
    }
  });
});

test('rediss:// with the CA: the same user over TLS; a client that does not know the CA is refused', { timeout: 60_000 }, async () => {
  const { redis, tls } = secureServices();
  const key = uniqueName('tributary:tls');
  const value = randomBytes(12).toString('hex');
  await using(client(redis.tlsUrl, redis.tributary, { tls: { ca: [tls.ca] } }), async (r) => {
    assert.equal(await r.set(key, value, 'PX', 60_000), 'OK');
    assert.equal(await r.get(key), value);
    assert.equal(await r.del(key), 1);
  });
  const stranger = await refusal(client(redis.tlsUrl, redis.tributary, { tls: {} }));
  // redis-server (OpenSSL) sends the CA along with its certificate; the client still does not trust it.
  assert.equal(stranger.code, 'SELF_SIGNED_CERT_IN_CHAIN', stranger.message);
});
