/**
 * An engine-like process for the hostile-corpus test: it holds the ClickHouse side (chDB opened
 * on CORPUS_DATA_DIR, as the engine does, with the test's tables and canaries; or nothing but
 * the analyst user of CORPUS_CLICKHOUSE_URL) and serves the real POST /sql route on a real push
 * server: /sql without credentials (loopback analysts), /sql-token with an analyst token, an
 * admin token and JWTs. GET /rss reports this process's memory, so the test measures the
 * process that runs the queries. Prints {"port": n} when ready.
 *
 * Run: node --import tsx test/helpers/sql-endpoint-process.ts (configured by CORPUS_* variables).
 */
import { connectClickHouse } from '../../src/clickhouse/connection.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { registerSqlRoute } from '../../src/push/sql-route.ts';
import { startPushServer } from '../../src/push/uws-push-server.ts';
import type { AnalystTarget } from '../../src/analytics/analyst-query.ts';

const env = process.env;
const need = (name: string): string => {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};

const table = need('CORPUS_TABLE');
const letters = need('CORPUS_LETTERS');
let target: AnalystTarget;
let keepOpen: { close(): Promise<void> } | undefined;
if (env.CORPUS_MODE === 'chdb') {
  const dataDir = need('CORPUS_DATA_DIR');
  // The engine's own connection: it holds chDB's directory for the life of the process.
  const client = await connectClickHouse({ dataDir, logger: silentLogger });
  const canary = need('CORPUS_CANARY');
  for (const statement of [
    `CREATE TABLE ${table} (id UInt32, name String, amount Float64) ENGINE = MergeTree ORDER BY id`,
    `INSERT INTO ${table} VALUES (1, 'alpha', 10.5), (2, 'beta', 20.25), (3, 'gamma', 0.5)`,
    `CREATE TABLE ${letters} (payload String) ENGINE = MergeTree ORDER BY payload`,
    `INSERT INTO ${letters} VALUES ('letter-${canary}')`,
    `CREATE DATABASE ${need('CORPUS_OTHER_DB')}`,
    `CREATE TABLE ${need('CORPUS_OTHER_DB')}.secrets (id UInt32, secret String) ENGINE = MergeTree ORDER BY id`,
    `INSERT INTO ${need('CORPUS_OTHER_DB')}.secrets VALUES (1, 'otherdb-${canary}')`,
  ]) {
    await client.command({ query: statement });
  }
  keepOpen = client;
  target = { dataDir };
} else {
  target = { url: need('CORPUS_CLICKHOUSE_URL'), analyst: { user: need('CORPUS_ANALYST_USER'), password: need('CORPUS_ANALYST_PASSWORD') } };
}

const limits = { timeoutMs: Number(env.CORPUS_TIMEOUT_MS ?? 2_000) };
const server = await startPushServer({
  port: 0,
  host: '127.0.0.1',
  logger: silentLogger,
  extraRoutes: (app) => {
    // The default concurrency limit (1 on chDB, 4 on a server), as the engine has it.
    const common = { clickhouse: target, analystTables: [table], logger: silentLogger, limits };
    registerSqlRoute(app, { ...common, credentials: {} });
    registerSqlRoute(app, {
      ...common,
      credentials: { analystToken: need('CORPUS_TOKEN'), adminToken: need('CORPUS_ADMIN_TOKEN'), jwt: { secret: need('CORPUS_JWT_SECRET') } },
      path: '/sql-token',
    });
    app.get('/rss', (res) => {
      const memory = process.memoryUsage();
      res.writeHeader('Content-Type', 'application/json').end(JSON.stringify({ rss: memory.rss, heapUsed: memory.heapUsed }));
    });
  },
});
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);

const stop = async () => {
  await server.close();
  await keepOpen?.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
