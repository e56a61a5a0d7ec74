import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/errors.ts';
import { loadConfig } from '../../../src/topology/config.ts';

const SECRET = 's'.repeat(32);

test('TRIBUTARY_WS_* become the push server options; unset, there is no websocket field', () => {
  assert.equal('websocket' in loadConfig({}), false);
  assert.deepEqual(
    loadConfig({
      TRIBUTARY_WS_SECRET: SECRET,
      TRIBUTARY_WS_ORIGINS: 'https://dash.example.com, http://localhost:8080',
      TRIBUTARY_WS_HEARTBEAT_MS: '5000',
      TRIBUTARY_WS_REPLAY_ITEMS: '500',
      TRIBUTARY_WS_SNAPSHOT_KEYS: '0',
      TRIBUTARY_WS_MESSAGES_PER_SECOND: '50',
      TRIBUTARY_WS_SLOW_CLIENT_MS: '2000',
    }).websocket,
    {
      auth: { secret: SECRET, origins: ['https://dash.example.com', 'http://localhost:8080'] },
      heartbeatIntervalMs: 5000,
      replay: { items: 500 },
      snapshot: { keys: 0 },
      rateLimit: { messagesPerSecond: 50 },
      slowClient: { maxBehindMs: 2000 },
    },
  );
  assert.deepEqual(loadConfig({ TRIBUTARY_WS_ORIGINS: 'https://a.example' }).websocket, { auth: { origins: ['https://a.example'] } });
});

test('invalid TRIBUTARY_WS_* values name the variable and the fix, and never echo the secret', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ TRIBUTARY_WS_SECRET: 'short-secret' }, 'TRIBUTARY_WS_SECRET'],
    [{ TRIBUTARY_WS_ORIGINS: 'dash.example.com' }, 'TRIBUTARY_WS_ORIGINS'],
    [{ TRIBUTARY_WS_ORIGINS: 'https://dash.example.com/app' }, 'TRIBUTARY_WS_ORIGINS'],
    [{ TRIBUTARY_WS_ORIGINS: ' , ' }, 'TRIBUTARY_WS_ORIGINS'],
    [{ TRIBUTARY_WS_HEARTBEAT_MS: '50' }, 'TRIBUTARY_WS_HEARTBEAT_MS'],
    [{ TRIBUTARY_WS_REPLAY_ITEMS: '0' }, 'TRIBUTARY_WS_REPLAY_ITEMS'],
    [{ TRIBUTARY_WS_SNAPSHOT_KEYS: '-1' }, 'TRIBUTARY_WS_SNAPSHOT_KEYS'],
    [{ TRIBUTARY_WS_MESSAGES_PER_SECOND: '1.5' }, 'TRIBUTARY_WS_MESSAGES_PER_SECOND'],
    [{ TRIBUTARY_WS_SLOW_CLIENT_MS: 'soon' }, 'TRIBUTARY_WS_SLOW_CLIENT_MS'],
  ];
  for (const [env, field] of cases) {
    assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && error.field === field && error.message.includes('Fix: '), field);
  }
  assert.throws(() => loadConfig({ TRIBUTARY_WS_SECRET: 'short-secret' }), (error: unknown) => error instanceof Error && !error.message.includes('short-secret') && error.message.includes('expected at least 32 characters'));
});
