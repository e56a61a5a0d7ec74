import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { silentLogger } from '../../src/observability/logger.ts';
import { FileBudgetLedger } from '../../src/analytics/dp/file-ledger.ts';
import { registerSqlRoute } from '../../src/push/sql-route.ts';
import { startPushServer, type RunningPushServer } from '../../src/push/uws-push-server.ts';
import { analystTargets, type AnalystSuiteTarget } from '../helpers/analyst-targets.ts';
import { errorCode, post } from '../helpers/sql-http.ts';
import { runCli } from '../helpers/run-cli.ts';

/**
 * POST /sql?dp=1 end to end on a ClickHouse 18.16 server (as its read-only analyst user) and on
 * embedded chDB: noisy counts, sums, means and a histogram land within their noise of the true
 * values computed here from the rows the test wrote; one card with 3,000 rows contributes at
 * most k; groups held by one card are not released; the budget is refused once spent.
 */
const TOKEN = 'dp-analyst-token-0123456789';
const ADMIN_TOKEN = 'dp-admin-token-0123456789ab';

const targets = analystTargets();

/** The rows: 300 ordinary cards (one payment each, amount 1..60) over merchants a, b, c; a heavy card with 3,000 payments of 1000 at c; a lone card at "solo". */
function makeRows(): Array<{ card: string; merchant: string; amount: number }> {
  const rows: Array<{ card: string; merchant: string; amount: number }> = [];
  for (let i = 0; i < 300; i++) rows.push({ card: `card-${i}`, merchant: ['a', 'b', 'c'][i % 3]!, amount: (i % 60) + 1 });
  for (let i = 0; i < 3000; i++) rows.push({ card: 'card-heavy', merchant: 'c', amount: 1000 });
  rows.push({ card: 'card-solo', merchant: 'solo', amount: 5 });
  return rows;
}

for (const target of targets) describe(target.label, () => dpSuite(target));

function dpSuite(target: AnalystSuiteTarget): void {
  const table = `dp_${randomBytes(4).toString('hex')}`;
  const rows = makeRows();
  let client: ClickHouseClient;
  let server: RunningPushServer;
  let ledgerDir = '';
  let cleanup: () => Promise<void> = async () => {};

  before(async () => {
    const opened = await target.open();
    client = opened.client;
    cleanup = opened.cleanup;
    ledgerDir = await mkdtemp(join(tmpdir(), 'tributary-dp-ledger-'));
    await client.command({ query: `CREATE TABLE ${table} (card String, merchant String, amount Float64) ENGINE = MergeTree ORDER BY card` });
    await client.insert({ table, values: rows, format: 'JSONEachRow' });
    const settings = (budget: number, file: string) => ({
      subjectColumn: 'card',
      ledger: new FileBudgetLedger(join(ledgerDir, file)),
      budgetMicro: budget * 1_000_000,
      delta: 1e-6,
      defaultRowsPerSubject: 1,
      maxRowsPerSubject: 10,
      maxEpsilon: 2,
    });
    server = await startPushServer({
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
      extraRoutes: (app) => {
        const common = { clickhouse: opened.target, analystTables: [table], logger: silentLogger };
        registerSqlRoute(app, { ...common, credentials: { analystToken: TOKEN, adminToken: ADMIN_TOKEN }, dp: settings(1000, 'ledger.json') });
        registerSqlRoute(app, { ...common, credentials: { analystToken: TOKEN }, dp: settings(1, 'small.json'), path: '/sql-small' });
        registerSqlRoute(app, { ...common, credentials: { analystToken: TOKEN }, path: '/sql-nodp' });
        registerSqlRoute(app, { ...common, credentials: { analystToken: TOKEN, adminToken: ADMIN_TOKEN }, dp: { ...settings(1000, 'only.json'), analystsDpOnly: true }, path: '/sql-dp-only' });
      },
    });
  });

  after(async () => {
    await server?.close();
    if (client) {
      await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
      await client.close();
    }
    await cleanup();
    if (ledgerDir) await rm(ledgerDir, { recursive: true, force: true });
  });

  const dp = (query: object, path = '/sql') => post(`http://127.0.0.1:${server.port}${path}?dp=1`, JSON.stringify(query), { Authorization: `Bearer ${TOKEN}` });
  const answerOf = (body: string) => JSON.parse(body) as { data: Array<{ key: string; count?: number; sum?: number; avg?: number }>; dp: { noise: { count?: { value: number }; sum?: { value: number }; threshold?: number } }; budget: { spent: number; remaining: number } };
  /** Per merchant: rows kept when each card keeps at most k (all of a card's rows are alike), and their clamped sum. */
  const truth = (k: number, lower: number, upper: number) => {
    const perCard = new Map<string, { merchant: string; amount: number; n: number }>();
    for (const row of rows) {
      const seen = perCard.get(row.card);
      if (seen) seen.n++;
      else perCard.set(row.card, { merchant: row.merchant, amount: row.amount, n: 1 });
    }
    const out = new Map<string, { n: number; sum: number }>();
    for (const { merchant, amount, n } of perCard.values()) {
      const kept = Math.min(n, k);
      const group = out.get(merchant) ?? { n: 0, sum: 0 };
      group.n += kept;
      group.sum += kept * Math.min(Math.max(amount, lower), upper);
      out.set(merchant, group);
    }
    return out;
  };

  test('count by public groups: within the noise of the true count, the heavy card counted at most k times', async () => {
    const answer = await dp({ table, aggregate: 'count', groupBy: 'merchant', groups: ['a', 'b', 'c', 'none'], epsilon: 1, rowsPerSubject: 3 });
    assert.equal(answer.status, 200, answer.body);
    const parsed = answerOf(answer.body);
    assert.equal(parsed.dp.noise.count!.value, 3); // Δ = k = 3, ε = 1
    const expected = truth(3, 0, 0);
    assert.deepEqual(parsed.data.map((row) => row.key), ['a', 'b', 'c', 'none']);
    for (const row of parsed.data) {
      const exact = expected.get(row.key)?.n ?? 0;
      // P(|Z| > 60) at scale 3 is about 2e-9.
      assert.ok(Math.abs(row.count! - exact) <= 60, `${row.key}: ${row.count} vs ${exact}`);
    }
    assert.equal(expected.get('c')!.n, 103); // 100 cards + the heavy card's 3 of 3,000
    assert.ok(parsed.data.find((row) => row.key === 'c')!.count! < 200, 'the heavy card contributes at most k rows');
  });

  test('sum and mean with clamped amounts: within the noise of the true values', async () => {
    const sum = await dp({ table, aggregate: 'sum', column: 'amount', groupBy: 'merchant', groups: ['a', 'b', 'c'], lower: 0, upper: 100, epsilon: 1 });
    assert.equal(sum.status, 200, sum.body);
    const expected = truth(1, 0, 100);
    const parsedSum = answerOf(sum.body);
    assert.equal(parsedSum.dp.noise.sum!.value, 100); // Δ = k·max(|lower|, |upper|) = 100
    for (const row of parsedSum.data) assert.ok(Math.abs(row.sum! - expected.get(row.key)!.sum) <= 2_000, `${row.key}: ${row.sum} vs ${expected.get(row.key)!.sum}`);
    const mean = await dp({ table, aggregate: 'avg', column: 'amount', lower: 0, upper: 100, epsilon: 2 });
    assert.equal(mean.status, 200, mean.body);
    const all = [...expected.values()].reduce((acc, g) => ({ n: acc.n + g.n, sum: acc.sum + g.sum }), { n: 0, sum: 0 });
    const [row] = answerOf(mean.body).data;
    // Sum noise scale 100 and count noise scale 1 (ε split in two): within 20 scales each, the
    // mean (about 30 over 301 rows) moves by less than (2,000 + 30·20) / 281 < 10.
    assert.ok(Math.abs(row!.avg! - all.sum / all.n) < 10, `mean ${row!.avg} vs ${all.sum / all.n}`);
  });

  test('groups not declared public are released over a noisy threshold: the lone card\'s merchant is not', async () => {
    const answer = await dp({ table, aggregate: 'count', groupBy: 'merchant', epsilon: 1 });
    assert.equal(answer.status, 200, answer.body);
    const parsed = answerOf(answer.body);
    assert.ok(parsed.dp.noise.threshold! > 1);
    assert.deepEqual(parsed.data.map((row) => row.key), ['a', 'b', 'c']);
  });

  test('histogram of clamped amounts: ten public bins within the noise of the true counts', async () => {
    const answer = await dp({ table, aggregate: 'histogram', column: 'amount', lower: 0, upper: 100, step: 10, epsilon: 1 });
    assert.equal(answer.status, 200, answer.body);
    const parsed = answerOf(answer.body);
    const bins = new Array<number>(10).fill(0);
    const seen = new Set<string>();
    for (const row of rows) {
      if (seen.has(row.card)) continue; // k = 1
      seen.add(row.card);
      bins[Math.min(Math.max(Math.floor(row.amount / 10), 0), 9)]!++;
    }
    assert.deepEqual(parsed.data.map((row) => row.key), ['0', '10', '20', '30', '40', '50', '60', '70', '80', '90']);
    parsed.data.forEach((row, i) => assert.ok(Math.abs(row.count! - bins[i]!) <= 20, `bin ${row.key}: ${row.count} vs ${bins[i]}`));
  });

  test('tributary query --dp asks the engine: noisy counts by public group as JSON rows and as a table', async () => {
    const query = JSON.stringify({ table, aggregate: 'count', groupBy: 'merchant', groups: ['a', 'b'], epsilon: 1 });
    const env = { ...process.env, TRIBUTARY_SQL_TOKEN: TOKEN };
    const json = await runCli(['query', '--dp', '--format', 'json', '--url', `http://127.0.0.1:${server.port}`, query], env);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as Array<{ key: string; count: number }>;
    assert.deepEqual(rows.map((row) => row.key), ['a', 'b']);
    for (const row of rows) assert.ok(Math.abs(row.count - 100) <= 20, `${row.key}: ${row.count}`);
    const table_ = await runCli(['query', '--dp', '--url', `http://127.0.0.1:${server.port}`, query], env);
    assert.equal(table_.code, 0, table_.stderr);
    assert.match(table_.stdout, /^key\s+count\n/);
    assert.match(table_.stdout, /\(2 rows\)\n$/);
  });

  test('refusals: budget spent (403 BUDGET_EXHAUSTED), a table outside the allowlist, SQL in the body, no DP configured', async () => {
    const first = await dp({ table, aggregate: 'count', epsilon: 0.6 }, '/sql-small');
    assert.equal(first.status, 200, first.body);
    assert.equal(answerOf(first.body).budget.remaining, 0.4);
    const second = await dp({ table, aggregate: 'count', epsilon: 0.6 }, '/sql-small');
    assert.equal(second.status, 403);
    assert.equal(errorCode(second), 'BUDGET_EXHAUSTED');
    const third = await dp({ table, aggregate: 'count', epsilon: 0.4 }, '/sql-small');
    assert.equal(third.status, 200, third.body);
    assert.equal(answerOf(third.body).budget.remaining, 0);
    const other = await dp({ table: 'system_tables', aggregate: 'count', epsilon: 0.1 });
    assert.equal(errorCode(other), 'NOT_ALLOWED');
    const sqlText = await post(`http://127.0.0.1:${server.port}/sql?dp=1`, `SELECT count() FROM ${table}`, { Authorization: `Bearer ${TOKEN}` });
    assert.equal(errorCode(sqlText), 'BAD_REQUEST');
    const injected = await dp({ table: `${table}; DROP TABLE x`, aggregate: 'count', epsilon: 0.1 });
    assert.equal(errorCode(injected), 'BAD_REQUEST');
    const off = await dp({ table, aggregate: 'count', epsilon: 0.1 }, '/sql-nodp');
    assert.equal(errorCode(off), 'BAD_REQUEST');
  });

  test('TRIBUTARY_DP_ONLY: an analyst\'s plain SQL is refused with 403 and DP queries answered; an admin keeps plain SQL', async () => {
    const base = `http://127.0.0.1:${server.port}/sql-dp-only`;
    const plain = await post(base, `SELECT count() FROM ${table}`, { Authorization: `Bearer ${TOKEN}` });
    assert.equal(plain.status, 403, plain.body);
    assert.equal(errorCode(plain), 'FORBIDDEN');
    assert.match(JSON.parse(plain.body).error, /TRIBUTARY_DP_ONLY/);
    const noisy = await dp({ table, aggregate: 'count', epsilon: 0.5 }, '/sql-dp-only');
    assert.equal(noisy.status, 200, noisy.body);
    const admin = await post(`${base}?format=TabSeparated`, `SELECT count() FROM ${table}`, { Authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.equal(admin.status, 200, admin.body);
    assert.equal(admin.body, `${rows.length}\n`);
  });
}
