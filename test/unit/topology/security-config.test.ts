import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfigError } from '../../../src/core/errors.ts';
import { loadConfig } from '../../../src/topology/config.ts';

const SECRET = 's'.repeat(32);

test('audit, metrics token, token audience/issuer and the per-address connection limit come from their variables', () => {
  const config = loadConfig({
    TRIBUTARY_AUDIT_LOG: '/var/lib/tributary/audit.jsonl',
    TRIBUTARY_AUDIT_TABLE: 'ops.audit_entries',
    TRIBUTARY_METRICS_TOKEN: 'metrics-token-0123456789',
    TRIBUTARY_WS_SECRET: SECRET,
    TRIBUTARY_WS_AUDIENCE: 'tributary-dashboard',
    TRIBUTARY_WS_ISSUER: 'https://auth.example.com',
    TRIBUTARY_WS_MAX_CONNECTIONS_PER_IP: '7',
  });
  assert.deepEqual(config.audit, { file: '/var/lib/tributary/audit.jsonl', table: 'ops.audit_entries' });
  assert.equal(config.metricsToken, 'metrics-token-0123456789');
  assert.deepEqual(config.websocket, { auth: { secret: SECRET, audience: 'tributary-dashboard', issuer: 'https://auth.example.com' }, maxConnectionsPerIp: 7 });
  assert.deepEqual(loadConfig({ TRIBUTARY_AUDIT_TABLE: 'off', TRIBUTARY_AUDIT_LOG: 'logs/a.jsonl' }).audit, { file: path.resolve('logs/a.jsonl'), table: null });
  assert.equal('metricsToken' in loadConfig({}), false);
});

test('bad values fail naming the variable and the fix, and never show a token', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ TRIBUTARY_AUDIT_TABLE: 'audit-log; DROP' }, 'TRIBUTARY_AUDIT_TABLE'],
    [{ TRIBUTARY_AUDIT_LOG: 'data/audit/' }, 'TRIBUTARY_AUDIT_LOG'],
    [{ TRIBUTARY_METRICS_TOKEN: 'short-canary' }, 'TRIBUTARY_METRICS_TOKEN'],
    [{ TRIBUTARY_METRICS_TOKEN: 'two words canary-0123456789' }, 'TRIBUTARY_METRICS_TOKEN'],
    [{ TRIBUTARY_WS_MAX_CONNECTIONS_PER_IP: '0' }, 'TRIBUTARY_WS_MAX_CONNECTIONS_PER_IP'],
    [{ TRIBUTARY_WS_MAX_CONNECTIONS_PER_IP: 'many' }, 'TRIBUTARY_WS_MAX_CONNECTIONS_PER_IP'],
    [{ TRIBUTARY_WS_SECRET: SECRET, TRIBUTARY_WS_AUDIENCE: 'two words' }, 'TRIBUTARY_WS_AUDIENCE'],
    [{ TRIBUTARY_WS_AUDIENCE: 'dashboard' }, 'TRIBUTARY_WS_AUDIENCE'],
    [{ TRIBUTARY_WS_ISSUER: 'https://auth.example.com' }, 'TRIBUTARY_WS_ISSUER'],
  ];
  for (const [env, field] of cases) {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => error instanceof ConfigError && error.field === field && error.message.includes('Fix: ') && !error.message.includes('canary'),
      JSON.stringify(env),
    );
  }
});
