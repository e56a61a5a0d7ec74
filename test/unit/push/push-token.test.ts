import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { AccessGate, channelMatcher } from '../../../src/push/access-gate.ts';
import { signPushToken, verifyPushToken } from '../../../src/push/push-token.ts';

const SECRET = 'unit-test-secret-unit-test-secret';
const NOW = Date.UTC(2026, 0, 1);

test('a signed token verifies with its claims; time and signature are checked', async () => {
  const token = await signPushToken(SECRET, { channels: ['fraud', 'alerts:*'], expiresInSeconds: 60, subject: 'dash' }, NOW);
  assert.deepEqual(await verifyPushToken(token, SECRET, NOW), { ok: true, claims: { channels: ['fraud', 'alerts:*'], exp: NOW / 1000 + 60, sub: 'dash' } });
  assert.deepEqual(await verifyPushToken(token, SECRET, NOW + 60_000), { ok: false, reason: 'expired' });
  assert.deepEqual(await verifyPushToken(token, `${SECRET}x`, NOW), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(await verifyPushToken('a.b', SECRET, NOW), { ok: false, reason: 'malformed' });
  assert.deepEqual(await verifyPushToken('x'.repeat(9000), SECRET, NOW), { ok: false, reason: 'malformed' });
  const badChannel = await signPushToken(SECRET, { channels: ['fraud#'], expiresInSeconds: 60 }, NOW);
  assert.deepEqual(await verifyPushToken(badChannel, SECRET, NOW), { ok: false, reason: 'invalid_claims' });
});

test('channel permissions: exact names, prefixes, everything', () => {
  const match = channelMatcher(['fraud', 'alerts:*']);
  assert.deepEqual(['fraud', 'fraud2', 'alerts:', 'alerts:eu', 'alerts'].map(match), [true, false, true, true, false]);
  assert.equal(channelMatcher(['*'])('anything'), true);
  assert.equal(channelMatcher([])('fraud'), false);
});

test('the gate answers synchronously unless a token must be verified', async () => {
  const open = new AccessGate({ origins: ['https://a.example'] });
  const admitted = open.admit('', '');
  assert.ok(!(admitted instanceof Promise) && admitted.ok && admitted.grant.canSubscribe('x') && admitted.grant.expiresAt === undefined);
  assert.deepEqual(open.admit('https://b.example', ''), { ok: false, status: '403 Forbidden', reason: 'origin', message: 'origin not allowed' });
  const secured = new AccessGate({ secret: SECRET });
  assert.deepEqual(secured.admit('', ''), { ok: false, status: '401 Unauthorized', reason: 'token_missing', message: 'missing token: connect to /ws?token=<token>' });
  const token = await signPushToken(SECRET, { channels: ['fraud'], expiresInSeconds: 60 }, NOW);
  const pending = secured.admit('https://any.example', token, NOW);
  assert.ok(pending instanceof Promise);
  const result = await pending;
  assert.ok(result.ok);
  assert.deepEqual([result.grant.canSubscribe('fraud'), result.grant.canSubscribe('other'), result.grant.expiresAt], [true, false, NOW + 60_000]);
});

test('other spellings of the same signature are malformed: padding, whitespace, spare bits (found by fuzzing)', async () => {
  const token = await signPushToken(SECRET, { channels: ['fraud'], expiresInSeconds: 60 }, NOW);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  // 32 bytes take 43 characters; the last carries 4 bits of the signature and 2 spare bits.
  const spareBits = signature.slice(0, -1) + alphabet[alphabet.indexOf(signature.at(-1)!) ^ 1];
  assert.deepEqual(Buffer.from(spareBits, 'base64url'), Buffer.from(signature, 'base64url'));
  const respelled = [`${signature}=`, `${signature.slice(0, 10)} ${signature.slice(10)}`, `${signature}\n`, `${signature.slice(0, 5)}\t${signature.slice(5)}`, spareBits];
  for (const variant of respelled) {
    assert.deepEqual(await verifyPushToken(`${header}.${payload}.${variant}`, SECRET, NOW), { ok: false, reason: 'malformed' }, JSON.stringify(variant));
  }
  assert.deepEqual(await verifyPushToken(` ${token}`, SECRET, NOW), { ok: false, reason: 'malformed' });
  assert.equal((await verifyPushToken(token, SECRET, NOW)).ok, true);
});

test('a token with an audience was minted for another service and is refused (found by fuzzing)', async () => {
  const key = new TextEncoder().encode(SECRET);
  const exp = NOW / 1000 + 60;
  for (const aud of ['billing-api', ['billing-api', 'reports'], '']) {
    const token = await new SignJWT({ channels: ['fraud'], aud }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key);
    assert.deepEqual(await verifyPushToken(token, SECRET, NOW), { ok: false, reason: 'invalid_claims' }, JSON.stringify(aud));
  }
  const withoutAudience = await new SignJWT({ channels: ['fraud'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key);
  assert.deepEqual(await verifyPushToken(withoutAudience, SECRET, NOW), { ok: true, claims: { channels: ['fraud'], exp } });
});

test('the role claim: admin gets the admin grant, none or analyst the analyst one, anything else is refused', async () => {
  const gate = new AccessGate({ secret: SECRET });
  const grantOf = async (role: unknown) => {
    const claims = role === undefined ? { channels: ['fraud'] } : { channels: ['fraud'], role };
    const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(NOW / 1000).setExpirationTime(NOW / 1000 + 60).sign(new TextEncoder().encode(SECRET));
    return gate.admit('', token, NOW);
  };
  assert.equal(((await grantOf('admin')) as { grant: { role: string } }).grant.role, 'admin');
  assert.equal(((await grantOf('analyst')) as { grant: { role: string } }).grant.role, 'analyst');
  assert.equal(((await grantOf(undefined)) as { grant: { role: string } }).grant.role, 'analyst');
  for (const role of ['root', ['admin'], 1]) assert.deepEqual(await grantOf(role), { ok: false, status: '401 Unauthorized', reason: 'invalid_claims', message: 'token claims invalid: expected channels (array) and exp (seconds)' });
  const signed = await signPushToken(SECRET, { channels: ['fraud'], expiresInSeconds: 60, role: 'admin' }, NOW);
  assert.deepEqual(await verifyPushToken(signed, SECRET, NOW), { ok: true, claims: { channels: ['fraud'], exp: NOW / 1000 + 60, role: 'admin' } });
  assert.equal((new AccessGate({}).admit('', '') as { grant: { role: string } }).grant.role, 'analyst', 'authentication off: the analyst view');
});
