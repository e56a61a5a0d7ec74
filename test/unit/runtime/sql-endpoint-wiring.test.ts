import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/errors.ts';
import { analystTables } from '../../../src/runtime/analyst-tables.ts';
import { startTestEndpoint } from '../../helpers/http-endpoint.ts';
import { createCardFraudTopology } from '../../../topologies/card-fraud.ts';

const SQL_VARIABLES = ['TRIBUTARY_SQL', 'TRIBUTARY_SQL_TOKEN', 'TRIBUTARY_SQL_ADMIN_TOKEN', 'TRIBUTARY_SQL_JWT_SECRET'];

/** Runs `body` with the SQL variables set to `values` only, restoring them afterwards. */
async function withSqlEnv(values: Record<string, string>, body: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(SQL_VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of SQL_VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
  try {
    await body();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const start = (host: string) => startTestEndpoint({ HOST: host, PORT: '0' }, ['payments']);

test('the engine refuses to serve POST /sql beyond loopback without a credential, naming the variable and the fix', async () => {
  await withSqlEnv({}, async () => {
    await assert.rejects(start('0.0.0.0'), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.field, 'TRIBUTARY_SQL_TOKEN');
      assert.match(error.message, /HOST=0\.0\.0\.0 serves the SQL endpoint beyond this machine/);
      assert.match(error.message, /TRIBUTARY_SQL=off/);
      return true;
    });
  });
});

test('with TRIBUTARY_SQL=off it starts on all interfaces, without POST /sql', async () => {
  await withSqlEnv({ TRIBUTARY_SQL: 'off' }, async () => {
    const server = await start('0.0.0.0');
    try {
      const answer = await fetch(`http://127.0.0.1:${server.port}/sql`, { method: 'POST', body: 'SELECT 1' });
      assert.equal(answer.status, 404);
    } finally {
      await server.close();
    }
  });
  await withSqlEnv({ TRIBUTARY_SQL_TOKEN: 'a-token-of-enough-length' }, async () => {
    const server = await start('0.0.0.0');
    try {
      const answer = await fetch(`http://127.0.0.1:${server.port}/sql`, { method: 'POST', body: 'SELECT 1' });
      assert.equal(answer.status, 401);
    } finally {
      await server.close();
    }
  });
});

test("analysts read the topology's tables and rollups, not its dead letters", () => {
  assert.deepEqual(analystTables(createCardFraudTopology({ tablePrefix: 't_' })), ['t_card_features', 't_fraud_predictions', 't_fraud_rate_per_minute', 't_late_records', 't_merchant_stats_per_hour', 't_payments']);
});
