import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { signPushToken } from '../../src/push/push-token.ts';
import { startPushServer } from '../../src/push/uws-push-server.ts';
import { PROTOCOL_ERRORS } from '../../src/push/protocol.ts';
import { TestClient, metricValue, rejectedUpgrade, withServer } from './ws-test-client.ts';

const SECRET = 'a-test-secret-of-at-least-32-bytes!';
const ORIGIN = 'https://dash.example.com';
const auth = { auth: { secret: SECRET, origins: [ORIGIN, 'http://localhost:8080'] } };

test('upgrades without a valid token get 401, from a foreign origin 403, and are counted', () =>
  withServer(async (server, metrics) => {
    const valid = await signPushToken(SECRET, { channels: ['fraud'], expiresInSeconds: 60 });
    const foreign = await signPushToken('another-secret-that-is-long-enough', { channels: ['fraud'], expiresInSeconds: 60 });
    const expired = await signPushToken(SECRET, { channels: ['fraud'], expiresInSeconds: 60 }, Date.now() - 3_600_000);
    const key = new TextEncoder().encode(SECRET);
    const noChannels = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key);
    const noExpiry = await new SignJWT({ channels: ['fraud'] }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    const notYet = await new SignJWT({ channels: ['fraud'] }).setProtectedHeader({ alg: 'HS256' }).setNotBefore('1h').setExpirationTime('2h').sign(key);
    // Two characters of the signature changed at its start: a changed last character may only touch
    // its spare bits, a respelling refused as malformed rather than as a bad signature.
    const signatureAt = valid.lastIndexOf('.') + 1;
    const altered = `${valid.slice(0, signatureAt)}${valid.startsWith('xx', signatureAt) ? 'yy' : 'xx'}${valid.slice(signatureAt + 2)}`;
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(`{"channels":["*"],"exp":${Math.floor(Date.now() / 1000) + 60}}`).toString('base64url')}.`;

    const cases: Array<[options: { token?: string; origin?: string }, status: number, body: string, reason: string]> = [
      [{}, 401, 'missing token: connect to /ws?token=<token>', 'token_missing'],
      [{ token: 'not-a-token' }, 401, 'malformed token', 'malformed'],
      [{ token: unsigned }, 401, 'malformed token', 'malformed'],
      [{ token: foreign }, 401, 'invalid token signature', 'bad_signature'],
      [{ token: altered }, 401, 'invalid token signature', 'bad_signature'],
      [{ token: expired }, 401, 'token expired', 'expired'],
      [{ token: notYet }, 401, 'token not valid yet', 'not_yet_valid'],
      [{ token: noChannels }, 401, 'token claims invalid: expected channels (array) and exp (seconds)', 'invalid_claims'],
      [{ token: noExpiry }, 401, 'token claims invalid: expected channels (array) and exp (seconds)', 'invalid_claims'],
      [{ token: valid, origin: 'https://evil.example.com' }, 403, 'origin not allowed', 'origin'],
      [{ origin: 'https://dash.example.com.evil.io' }, 403, 'origin not allowed', 'origin'],
    ];
    for (const [options, status, body] of cases) {
      assert.deepEqual(await rejectedUpgrade(server, options), { status, body }, JSON.stringify(options));
    }
    const counts = new Map<string, number>();
    for (const [, , , reason] of cases) counts.set(reason, (counts.get(reason) ?? 0) + 1);
    for (const [reason, count] of counts) assert.equal(await metricValue(metrics.wsRejectedUpgrades, { reason }), count, reason);
    assert.equal(await metricValue(metrics.wsClients), 0);

    // The right token passes, from an allowed origin (any case) or from a non-browser client (no Origin).
    for (const origin of [ORIGIN, 'HTTP://LOCALHOST:8080', undefined]) {
      const client = await TestClient.connect(server, { token: valid, ...(origin ? { origin } : {}) });
      await client.subscribeSynced('fraud');
      await client.close();
    }
  }, auth));

test('a token grants only its channels: names, prefixes and *', () =>
  withServer(async (server) => {
    const token = await signPushToken(SECRET, { channels: ['fraud', 'alerts:*'], expiresInSeconds: 60, subject: 'dash-1' });
    const client = await TestClient.connect(server, { token, origin: ORIGIN });
    await client.subscribeSynced('fraud');
    await client.subscribeSynced('alerts:eu');
    for (const channel of ['fraud2', 'alerts', 'admin']) {
      client.send({ type: 'subscribe', channel });
      assert.deepEqual(await client.next(), { type: 'error', code: 'forbidden', error: PROTOCOL_ERRORS.forbidden, channel });
    }
    server.publish('admin', [{ secret: true }]);
    server.publish('fraud', [{ ok: true }]);
    assert.deepEqual(await client.next(), { type: 'data', channel: 'fraud', seq: 1, data: { ok: true } });
    await client.close();

    const all = await TestClient.connect(server, { token: await signPushToken(SECRET, { channels: ['*'], expiresInSeconds: 60 }) });
    await all.subscribeSynced('admin');
    await all.close();
  }, auth));

test('a connection whose token expires is closed with 4001', () =>
  withServer(async (server, metrics) => {
    // exp has whole seconds: 2 s from now's second is 1 to 2 s away.
    const token = await signPushToken(SECRET, { channels: ['fraud'], expiresInSeconds: 2 });
    // Its own exp claim: recomputing it here would be a second late when a second boundary fell between.
    const expiresAt = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000;
    const client = await TestClient.connect(server, { token });
    await client.subscribeSynced('fraud');
    assert.deepEqual(await client.closed, { code: 4001, reason: 'token expired' });
    const late = Date.now() - expiresAt;
    // Checked on a 250 ms tick; the bound only catches a close that is not about expiry at all.
    assert.ok(late >= 0 && late < 10_000, `closed ${late} ms after expiry`);
    assert.equal(await metricValue(metrics.wsDisconnects, { reason: 'token_expired' }), 1);
  }, auth));

test('without a secret, authentication is off and the server warns once', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
  const logger = pino({ level: 'info' }, sink);
  const open = await startPushServer({ port: 0, host: '127.0.0.1', logger });
  const secured = await startPushServer({ port: 0, host: '127.0.0.1', logger, auth: { secret: SECRET } });
  try {
    const client = await TestClient.connect(open);
    await client.subscribeSynced('anything');
    await client.close();
    const warnings = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.level === 40);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.msg, /^WebSocket authentication is off \(no secret; set TRIBUTARY_WS_SECRET\)/);
  } finally {
    await open.close();
    await secured.close();
  }
});

test('with an audience and issuer configured, tokens must name both (aud, iss), else 401', () =>
  withServer(async (server, metrics) => {
    const grant = { channels: ['fraud'], expiresInSeconds: 60 };
    const good = await signPushToken(SECRET, { ...grant, audience: 'tributary-dashboard', issuer: 'https://auth.example.com' });
    const cases: Array<[token: string, body: string, reason: string]> = [
      [await signPushToken(SECRET, { ...grant, issuer: 'https://auth.example.com' }), 'token audience (aud) not accepted', 'audience'],
      [await signPushToken(SECRET, { ...grant, audience: 'other-service', issuer: 'https://auth.example.com' }), 'token audience (aud) not accepted', 'audience'],
      [await signPushToken(SECRET, { ...grant, audience: 'tributary-dashboard' }), 'token issuer (iss) not accepted', 'issuer'],
      [await signPushToken(SECRET, { ...grant, audience: 'tributary-dashboard', issuer: 'https://evil.example.com' }), 'token issuer (iss) not accepted', 'issuer'],
    ];
    for (const [token, body] of cases) assert.deepEqual(await rejectedUpgrade(server, { token }), { status: 401, body });
    assert.equal(await metricValue(metrics.wsRejectedUpgrades, { reason: 'audience' }), 2);
    assert.equal(await metricValue(metrics.wsRejectedUpgrades, { reason: 'issuer' }), 2);
    const client = await TestClient.connect(server, { token: good });
    await client.subscribeSynced('fraud');
    await client.close();
  }, { auth: { secret: SECRET, audience: 'tributary-dashboard', issuer: 'https://auth.example.com' } }));
