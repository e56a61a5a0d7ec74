import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Engine } from '../../src/runtime/engine.ts';
import { loadConfig } from '../../src/topology/config.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { generatorSource } from '../../src/sources/generator/generator-source.ts';
import type { SourceSpec } from '../../src/sources/source.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { startPushServer, type RunningPushServer } from '../../src/push/uws-push-server.ts';
import { registerSqlRoute } from '../../src/push/sql-route.ts';
import { analystTables } from '../../src/runtime/analyst-tables.ts';
import { createCardFraudTopology, FLAGGED_PROBABILITY } from '../../topologies/card-fraud.ts';
import { referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { REPO_ROOT } from '../helpers/services.ts';
import { freePort } from '../helpers/free-port.ts';

/**
 * The "done when": `tributary query` returns correct results in embedded mode while the
 * engine runs. The card-fraud topology runs in this process on embedded chDB (which then holds
 * the directory's lock) over a bounded, seeded stream of payments, with the SQL endpoint on its
 * push server wired as the engine does; `tributary query` runs as a child process. Its answers
 * are checked against values computed here from the same payments, and once the engine has
 * stopped, the same commands read the directory directly and must print exactly the same.
 */
const run = promisify(execFile);
const EVENTS = 3_000;
const RATE = 20; // events per second of event time: 150 s of payments
const T0 = 1_700_000_000_000;

const model = new CardPaymentModel({ seed: 11, cards: 300, merchants: 40, lateShare: 0 });
const payments: Payment[] = Array.from({ length: EVENTS }, (_, i) => model.next(T0 + (i * 1000) / RATE).payment);

let dataDir: string;
let engine: Engine;
let server: RunningPushServer;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tributary-query-'));
  const config = loadConfig({ CLICKHOUSE_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' });
  const source = generatorSource<Payment>({
    name: 'seeded-payments',
    events: () => {
      const replay = new CardPaymentModel({ seed: 11, cards: 300, merchants: 40, lateShare: 0 });
      return { next: (time) => replay.next(time).payment };
    },
    eventTime: (p) => p.ts,
    eventsPerSecond: RATE,
    pace: 'max',
    startTime: T0,
    limit: EVENTS,
    outOfOrderness: '5s',
  });
  engine = await Engine.start(createCardFraudTopology(), { config, logger: silentLogger, metrics: new Metrics(), push: false, source: source as SourceSpec<unknown> });
  // What the engine's wiring does (see the report): the SQL route on the push server's port,
  // reading the engine's ClickHouse (here its chDB directory, in this process).
  server = await startPushServer({
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger,
    extraRoutes: (app) => registerSqlRoute(app, { clickhouse: { url: config.clickhouseUrl, dataDir: config.clickhouseDataDir }, analystTables: analystTables(engine.topology), logger: silentLogger, credentials: {} }),
  });
  engine.environment.pushServer = server;
  await engine.done; // every payment processed, every window closed, every sink flushed
});

after(async () => {
  await engine?.stop().catch(() => {});
  await rm(dataDir, { recursive: true, force: true });
});

/** `tributary query SQL ARGS...` as a child process, with PORT naming this test's engine. */
async function tributaryQuery(sql: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(server.port), HOST: '127.0.0.1', CLICKHOUSE_DATA_DIR: dataDir };
  for (const name of ['CLICKHOUSE_URL', 'KAFKA_BROKERS', 'REDIS_URL', 'TRIBUTARY_SQL_TOKEN']) delete env[name];
  return run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'query', sql, ...args], { cwd: REPO_ROOT, env, timeout: 60_000 });
}

// Computed from the payments, independently of the engine.
const merchants = new Map<string, { payments: number; cards: Set<string>; max: number }>();
for (const p of payments) {
  const key = `${Math.floor(p.ts / 3_600_000) * 3_600}|${p.merchantId}`;
  const stats = merchants.get(key) ?? { payments: 0, cards: new Set(), max: -Infinity };
  stats.payments++;
  stats.cards.add(p.cardId);
  stats.max = Math.max(stats.max, p.amount);
  merchants.set(key, stats);
}
const windows = referenceCardFeatures(payments).length;
const perMerchant = new Map<string, number>();
for (const p of payments) perMerchant.set(p.merchantId, (perMerchant.get(p.merchantId) ?? 0) + 1);
const top = [...perMerchant].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3);

const QUERIES: Record<string, [string, string]> = {
  totals: ['SELECT (SELECT count() FROM payments FINAL) AS payments, (SELECT uniqExact(merchantId) FROM payments FINAL) AS merchants, (SELECT count() FROM late_records) AS late', 'csv'],
  top: ['SELECT merchantId, sum(payments) AS payments FROM merchant_stats_per_hour GROUP BY merchantId ORDER BY payments DESC, merchantId LIMIT 3', 'table'],
  hourly: ['SELECT toUnixTimestamp(hour) AS hour, merchantId, payments, cards, amount_max FROM merchant_stats_per_hour ORDER BY hour, merchantId', 'json'],
  rollup: ['SELECT sum(predictions) AS predictions, sum(flagged) AS flagged FROM fraud_rate_per_minute', 'csv'],
  table: [`SELECT count() AS predictions, countIf(probability >= ${FLAGGED_PROBABILITY}) AS flagged FROM fraud_predictions FINAL`, 'csv'],
};

const whileRunning = new Map<string, string>();

test('while the engine runs, tributary query answers through its SQL endpoint with the expected values', { timeout: 180_000 }, async () => {
  for (const [name, [sql, format]] of Object.entries(QUERIES)) {
    const { stdout, stderr } = await tributaryQuery(sql, '--format', format);
    assert.equal(stderr, '', `${name}: no fallback note, the engine answered`);
    whileRunning.set(name, stdout);
  }
  assert.equal(whileRunning.get('totals'), `"payments","merchants","late"\n${EVENTS},${new Set(payments.map((p) => p.merchantId)).size},0\n`);
  const width = Math.max('merchantId'.length, ...top.map(([id]) => id.length));
  const countWidth = Math.max('payments'.length, ...top.map(([, n]) => String(n).length));
  assert.equal(
    whileRunning.get('top'),
    [`${'merchantId'.padEnd(width)}  ${'payments'.padStart(countWidth)}`, `${'-'.repeat(width)}  ${'-'.repeat(countWidth)}`, ...top.map(([id, n]) => `${id.padEnd(width)}  ${String(n).padStart(countWidth)}`), '(3 rows)', ''].join('\n'),
  );
  const hourly = JSON.parse(whileRunning.get('hourly')!) as Array<{ hour: number; merchantId: string; payments: number; cards: number; amount_max: number }>;
  const expected = [...merchants].map(([key, s]) => ({ hour: Number(key.split('|')[0]), merchantId: key.split('|')[1]!, payments: s.payments, cards: s.cards.size, amount_max: s.max }));
  expected.sort((a, b) => a.hour - b.hour || (a.merchantId < b.merchantId ? -1 : a.merchantId > b.merchantId ? 1 : 0));
  assert.deepEqual(hourly, expected);
  // The rollup agrees with the deduplicated table, and both with the reference windows.
  assert.match(whileRunning.get('table')!, new RegExp(`^"predictions","flagged"\\n${windows},\\d+\\n$`));
  assert.equal(whileRunning.get('rollup'), whileRunning.get('table'));
});

test('while the engine runs, a write is refused, and the directory cannot be opened by a second process', { timeout: 60_000 }, async () => {
  await assert.rejects(tributaryQuery('DROP TABLE payments'), (error: { code?: number; stderr?: string }) => {
    assert.equal(error.code, 1);
    assert.match(error.stderr ?? '', /only a SELECT statement .* may run, not DROP/);
    return true;
  });
  const { stdout } = await tributaryQuery('SELECT count() AS n FROM payments FINAL', '--format', 'csv');
  assert.equal(stdout, `"n"\n${EVENTS}\n`);
  // Pointed at no engine, the CLI tries the directory, which the running engine holds.
  await assert.rejects(tributaryQuery('SELECT 1', '--url', `http://127.0.0.1:${await freePort()}`), (error: { code?: number; stderr?: string }) => {
    assert.equal(error.code, 1);
    assert.match(error.stderr ?? '', /cannot open the embedded ClickHouse data in .*Another process \(a running engine\?\) holds it/);
    return true;
  });
});

test('after the engine stopped, tributary query reads the directory itself and prints the same', { timeout: 180_000 }, async () => {
  assert.equal(whileRunning.size, Object.keys(QUERIES).length, 'runs after the first test');
  await engine.stop();
  for (const [name, [sql, format]] of Object.entries(QUERIES)) {
    const { stdout, stderr } = await tributaryQuery(sql, '--format', format);
    assert.equal(stderr, `tributary query: no engine answers at http://127.0.0.1:${server.port}; reading the embedded data in ${dataDir} directly\n`, name);
    assert.equal(stdout, whileRunning.get(name), name);
  }
  // Read directly, the same parser, allowlist and limits hold (the admin role, but nothing more).
  for (const [sql, message] of [
    ["SELECT file('/proc/self/environ')", /the function file is not allowed/],
    ['SELECT * FROM system.processes', /outside the topology's database/],
    ["SELECT * FROM (SELECT count() FROM payments SETTINGS readonly = 0)", /SETTINGS clauses are not allowed/],
    ['DESCRIBE TABLE payments', /only a SELECT statement .* not DESCRIBE/],
  ] as const) {
    await assert.rejects(tributaryQuery(sql), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 1, sql);
      assert.match(error.stderr ?? '', message, sql);
      return true;
    });
  }
});

