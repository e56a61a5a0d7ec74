import { test } from 'node:test';
import assert from 'node:assert/strict';
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
