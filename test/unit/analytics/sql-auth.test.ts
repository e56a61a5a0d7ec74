import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { authenticateSqlRequest } from '../../../src/analytics/sql-auth.ts';
import type { SqlCredentials } from '../../../src/analytics/sql-config.ts';
import type { SqlRequestFacts } from '../../../src/analytics/sql-access.ts';
import { SqlQueryError } from '../../../src/analytics/sql-errors.ts';

const ANALYST = 'analyst-token-0123456789';
const ADMIN = 'admin-token-0123456789ab';
const SECRET = 'a-jwt-secret-of-32-characters-or-more!';
const local: SqlRequestFacts = { remoteAddress: '127.0.0.1', authorization: '', host: '127.0.0.1:8080', origin: '' };

async function who(facts: Partial<SqlRequestFacts>, credentials: SqlCredentials): Promise<string> {
  try {
    const principal = await authenticateSqlRequest({ ...local, ...facts }, credentials);
    return `${principal.name} ${principal.role}`;
  } catch (error) {
    assert.ok(error instanceof SqlQueryError);
    return `${error.status} ${error.sqlCode} ${error.message}`;
  }
}

async function jwt(claims: Record<string, unknown>, options: { secret?: string; alg?: string; expiresIn?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 60))
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

test('without credentials: loopback clients and hosts, as the analyst "loopback"', async () => {
  assert.equal(await who({}, {}), 'loopback analyst');
  assert.equal(await who({ remoteAddress: '0000:0000:0000:0000:0000:0000:0000:0001', host: '[::1]:8080' }, {}), 'loopback analyst');
  assert.match(await who({ remoteAddress: '192.0.2.7' }, {}), /^403 FORBIDDEN/);
  assert.match(await who({ host: 'attacker.example:8080' }, {}), /^403 FORBIDDEN/);
  assert.match(await who({ origin: 'http://attacker.example' }, {}), /^403 FORBIDDEN/);
  assert.match(await who({ authorization: `Bearer ${ADMIN}`, remoteAddress: '192.0.2.7' }, {}), /^403 FORBIDDEN/);
});

test('static tokens carry their role, from anywhere; anything else is 401', async () => {
  const credentials = { analystToken: ANALYST, adminToken: ADMIN };
  assert.equal(await who({ authorization: `Bearer ${ANALYST}` }, credentials), 'analyst-token analyst');
  assert.equal(await who({ authorization: `bearer  ${ADMIN}`, remoteAddress: '192.0.2.7', host: 'engine.example' }, credentials), 'admin-token admin');
  assert.match(await who({}, credentials), /^401 UNAUTHORIZED/);
  assert.match(await who({ authorization: `Bearer ${ADMIN}x` }, credentials), /^401 UNAUTHORIZED/);
  assert.match(await who({ authorization: ADMIN }, credentials), /^401 UNAUTHORIZED/);
  assert.match(await who({ authorization: `Bearer ${ADMIN}`, origin: 'http://attacker.example' }, credentials), /^403 FORBIDDEN/);
  // With only an admin token, the loopback shortcut is gone too.
  assert.match(await who({}, { adminToken: ADMIN }), /^401 UNAUTHORIZED/);
});

test('JWTs: HS256 with the secret, sub and role claims, exp, audience and issuer when configured', async () => {
  const credentials: SqlCredentials = { jwt: { secret: SECRET, audience: 'tributary-sql', issuer: 'https://idp.example' } };
  const good = { sub: 'ada@example.com', role: 'admin', aud: 'tributary-sql', iss: 'https://idp.example' };
  assert.equal(await who({ authorization: `Bearer ${await jwt(good)}` }, credentials), 'ada@example.com admin');
  assert.equal(await who({ authorization: `Bearer ${await jwt({ ...good, role: 'analyst' })}` }, credentials), 'ada@example.com analyst');
  const refused: Array<[string, string, RegExp]> = [
    ['another secret', await jwt(good, { secret: `${SECRET}-other` }), /signature is not valid/],
    ['expired', await jwt(good, { expiresIn: -10 }), /expired/],
    ['HS512', await jwt(good, { alg: 'HS512' }), /not signed with HS256/],
    ['wrong audience', await jwt({ ...good, aud: 'other' }), /aud claim/],
    ['wrong issuer', await jwt({ ...good, iss: 'https://evil.example' }), /iss claim/],
    ['no role', await jwt({ ...good, role: undefined }), /role claim/],
    ['unknown role', await jwt({ ...good, role: 'root' }), /role claim/],
    ['no subject', await jwt({ ...good, sub: undefined }), /sub/],
  ];
  for (const [what, token, reason] of refused) {
    const answer = await who({ authorization: `Bearer ${token}` }, credentials);
    assert.match(answer, /^401 UNAUTHORIZED/, what);
    assert.match(answer, reason, what);
    assert.ok(!answer.includes(SECRET), what);
  }
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...good, exp: 9e9 })).toString('base64url')}.`;
  assert.match(await who({ authorization: `Bearer ${none}` }, credentials), /^401 UNAUTHORIZED/);
});
