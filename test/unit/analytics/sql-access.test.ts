import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSqlAccess, isLoopbackAddress, isLoopbackHost, type SqlRequestFacts } from '../../../src/analytics/sql-access.ts';
import { SqlQueryError } from '../../../src/analytics/sql-errors.ts';

const TOKEN = 'a-token-of-enough-length';
const local: SqlRequestFacts = { remoteAddress: '127.0.0.1', authorization: '', host: '127.0.0.1:8080', origin: '' };

function decision(facts: Partial<SqlRequestFacts>, token?: string): string {
  try {
    checkSqlAccess({ ...local, ...facts }, token);
    return 'allowed';
  } catch (error) {
    assert.ok(error instanceof SqlQueryError);
    return `${error.status} ${error.sqlCode}`;
  }
}

test('without a token: loopback peers asking for a loopback host only', () => {
  assert.equal(decision({}), 'allowed');
  assert.equal(decision({ remoteAddress: '0000:0000:0000:0000:0000:0000:0000:0001', host: '[::1]:8080' }), 'allowed');
  assert.equal(decision({ remoteAddress: '0000:0000:0000:0000:0000:ffff:7f00:0001', host: 'localhost:8080' }), 'allowed');
  assert.equal(decision({ remoteAddress: '192.0.2.7' }), '403 FORBIDDEN');
  assert.equal(decision({ remoteAddress: '0000:0000:0000:0000:0000:ffff:c000:0207' }), '403 FORBIDDEN');
  assert.equal(decision({ host: 'attacker.example:8080' }), '403 FORBIDDEN'); // DNS rebinding
  assert.equal(decision({ host: '' }), '403 FORBIDDEN');
  assert.equal(decision({ origin: 'http://attacker.example' }), '403 FORBIDDEN');
  assert.equal(decision({ origin: 'http://127.0.0.1:8080' }), 'allowed');
  // A bearer token sent to an engine that has none changes nothing.
  assert.equal(decision({ authorization: `Bearer ${TOKEN}`, remoteAddress: '192.0.2.7' }), '403 FORBIDDEN');
});

test('with a token: the token, from anywhere, loopback included', () => {
  assert.equal(decision({}, TOKEN), '401 UNAUTHORIZED');
  assert.equal(decision({ authorization: TOKEN }, TOKEN), '401 UNAUTHORIZED');
  assert.equal(decision({ authorization: `Bearer ${TOKEN}x` }, TOKEN), '401 UNAUTHORIZED');
  assert.equal(decision({ authorization: `Basic ${TOKEN}` }, TOKEN), '401 UNAUTHORIZED');
  assert.equal(decision({ authorization: `Bearer ${TOKEN}` }, TOKEN), 'allowed');
  assert.equal(decision({ authorization: `bearer  ${TOKEN}`, remoteAddress: '192.0.2.7', host: 'engine.example:8080' }, TOKEN), 'allowed');
  assert.equal(decision({ authorization: `Bearer ${TOKEN}`, origin: 'http://attacker.example' }, TOKEN), '403 FORBIDDEN');
});

test('loopback addresses and hosts', () => {
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '0000:0000:0000:0000:0000:ffff:7f00:0001']) assert.ok(isLoopbackAddress(address), address);
  for (const address of ['10.0.0.1', '::2', '::ffff:10.0.0.1', 'fe80::1', '', 'localhost', '1::1::1']) assert.ok(!isLoopbackAddress(address), address);
  for (const host of ['localhost', 'localhost:8080', 'LOCALHOST', 'app.localhost:1', '127.0.0.1', '127.0.0.1:8080', '[::1]', '[::1]:8080']) assert.ok(isLoopbackHost(host), host);
  for (const host of ['example.com', 'localhost.example.com', '192.0.2.1:8080', '[fe80::1]:8080', '']) assert.ok(!isLoopbackHost(host), host);
});
