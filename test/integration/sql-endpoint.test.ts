import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ClickHouseClient } from '@clickhouse/client';
import { silentLogger } from '../../src/observability/logger.ts';
import type { AuditEvent, AuditTrail } from '../../src/audit/audit-trail.ts';
import { registerSqlRoute } from '../../src/push/sql-route.ts';
import { startPushServer, type RunningPushServer } from '../../src/push/uws-push-server.ts';
import { analystTargets, type AnalystSuiteTarget } from '../helpers/analyst-targets.ts';
import { startPrivateClickHouse } from '../helpers/private-clickhouse.ts';
import { errorCode, post } from '../helpers/sql-http.ts';

/**
 * POST /sql on a real push server, against a ClickHouse 18.16 server (a private one, whose
 * "analyst" user has a read-only profile with 5 rows and 1 s as limits) and embedded chDB (a
 * session of the route's own next to the test's, as in the engine): formats, roles and access,
 * refusals, row and time limits, concurrency, the audit trail and error answers.
 */
const TOKEN = 'test-token-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const LIMITS = { maxRows: 5, timeoutMs: 1_000 };

const targets = analystTargets({ maxExecutionSeconds: 1, maxResultRows: 5 });

/** An audit trail that keeps what it is given, in memory. */
function memoryAudit(): AuditTrail & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: async (event) => void events.push(event), close: async () => {} };
}

for (const target of targets) describe(target.label, () => endpointSuite(target));

function endpointSuite(target: AnalystSuiteTarget): void {
  const table = `sql_${randomBytes(4).toString('hex')}`;
  let client: ClickHouseClient;
  let server: RunningPushServer;
  let cleanup: () => Promise<void> = async () => {};
  const audit = memoryAudit();
  const count = async () => Number((await (await client.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);

  before(async () => {
    const opened = await target.open();
    client = opened.client;
    cleanup = opened.cleanup;
    await client.command({ query: `CREATE TABLE ${table} (id UInt32, name String, amount Float64) ENGINE = MergeTree ORDER BY id` });
    await client.command({ query: `INSERT INTO ${table} VALUES (1, 'alpha', 10.5), (2, 'beta', 20.25), (3, 'gamma', 0.5)` });
    server = await startPushServer({
      port: 0,
      host: '0.0.0.0',
      logger: silentLogger,
      extraRoutes: (app) => {
        const common = { clickhouse: opened.target, analystTables: [table, `${table}_big`], logger: silentLogger, limits: LIMITS };
        registerSqlRoute(app, { ...common, credentials: {}, maxConcurrent: 1, audit });
        registerSqlRoute(app, { ...common, credentials: { analystToken: TOKEN, adminToken: ADMIN_TOKEN }, path: '/sql-token' });
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
  });

  const sql = (body: string, options: { format?: string; path?: string; headers?: Record<string, string> } = {}) =>
    post(`http://127.0.0.1:${server.port}${options.path ?? '/sql'}${options.format ? `?format=${options.format}` : ''}`, body, options.headers);

  test('formats: JSON (default), JSONEachRow, CSV, CSVWithNames, TabSeparated, TabSeparatedWithNames', async () => {
    const query = `SELECT id, name, amount FROM ${table} ORDER BY id`;
    const json = await sql(query);
    assert.equal(json.status, 200);
    assert.equal(json.headers['content-type'], 'application/json; charset=utf-8');
    const parsed = JSON.parse(json.body) as { meta: unknown; data: unknown; rows: number };
    assert.deepEqual(parsed.meta, [{ name: 'id', type: 'UInt32' }, { name: 'name', type: 'String' }, { name: 'amount', type: 'Float64' }]);
    assert.deepEqual(parsed.data, [{ id: 1, name: 'alpha', amount: 10.5 }, { id: 2, name: 'beta', amount: 20.25 }, { id: 3, name: 'gamma', amount: 0.5 }]);
    assert.equal(parsed.rows, 3);
    const expected: Record<string, [string, string]> = {
      JSONEachRow: ['application/x-ndjson; charset=utf-8', '{"id":1,"name":"alpha","amount":10.5}\n{"id":2,"name":"beta","amount":20.25}\n{"id":3,"name":"gamma","amount":0.5}\n'],
      CSV: ['text/csv; charset=utf-8', '1,"alpha",10.5\n2,"beta",20.25\n3,"gamma",0.5\n'],
      csvwithnames: ['text/csv; charset=utf-8', '"id","name","amount"\n1,"alpha",10.5\n2,"beta",20.25\n3,"gamma",0.5\n'],
      TabSeparated: ['text/tab-separated-values; charset=utf-8', '1\talpha\t10.5\n2\tbeta\t20.25\n3\tgamma\t0.5\n'],
      TabSeparatedWithNames: ['text/tab-separated-values; charset=utf-8', 'id\tname\tamount\n1\talpha\t10.5\n2\tbeta\t20.25\n3\tgamma\t0.5\n'],
    };
    for (const [format, [type, body]] of Object.entries(expected)) {
      const answer = await sql(query, { format });
      assert.deepEqual({ status: answer.status, type: answer.headers['content-type'], body: answer.body }, { status: 200, type, body }, format);
    }
    // WITH, UNION ALL, joins and subqueries; a trailing semicolon and comments are fine.
    assert.equal((await sql(`WITH 2 AS k SELECT name FROM ${table} WHERE id = k; -- the second`, { format: 'TabSeparated' })).body, 'beta\n');
    assert.equal((await sql(`/* ids */ SELECT id FROM (SELECT id FROM ${table} WHERE id = 1 UNION ALL SELECT id FROM ${table} WHERE id = 3) ORDER BY id`, { format: 'TabSeparated' })).body, '1\n3\n');
    assert.equal((await sql(`SELECT a.name, b.amount FROM ${table} AS a INNER JOIN ${table} AS b USING (id) WHERE id IN (SELECT max(id) FROM ${table})`, { format: 'TabSeparated' })).body, 'gamma\t0.5\n');
    assert.equal((await sql(`SELECT sumIf(amount, id > 1) AS s, countIf(name LIKE '%a') AS n FROM (SELECT * FROM ${table})`, { format: 'TabSeparated' })).body, '20.75\t3\n');
  });

  test('access: a bearer token when one is set, loopback clients and hosts only when not', async () => {
    const select = `SELECT count() AS n FROM ${table}`;
    const missing = await sql(select, { path: '/sql-token', format: 'TabSeparated' });
    assert.deepEqual([missing.status, missing.headers['www-authenticate'], errorCode(missing)], [401, 'Bearer realm="tributary-sql"', 'UNAUTHORIZED']);
    assert.equal(errorCode(await sql(select, { path: '/sql-token', headers: { Authorization: `Bearer ${TOKEN}x` } })), 'UNAUTHORIZED');
    const good = await sql(select, { path: '/sql-token', format: 'TabSeparated', headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.deepEqual([good.status, good.body], [200, '3\n']);
    const admin = await sql(select, { path: '/sql-token', format: 'TabSeparated', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.deepEqual([admin.status, admin.body], [200, '3\n']);
    assert.deepEqual([(await sql(select, { format: 'TabSeparated' })).body], ['3\n']);
    // DNS rebinding and cross-origin pages: a loopback peer is not enough.
    const rebound = await sql(select, { headers: { Host: `evil.example:${server.port}` } });
    assert.deepEqual([rebound.status, errorCode(rebound)], [403, 'FORBIDDEN']);
    const crossOrigin = await sql(select, { headers: { Origin: 'http://evil.example' } });
    assert.deepEqual([crossOrigin.status, errorCode(crossOrigin)], [403, 'FORBIDDEN']);
    const sameOrigin = await sql(select, { format: 'TabSeparated', headers: { Origin: `http://127.0.0.1:${server.port}` } });
    assert.deepEqual([sameOrigin.status, sameOrigin.body], [200, '3\n']);
  });

  test('access from another machine: refused without a token, answered with it', async (t) => {
    const address = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (address === undefined) return t.skip('this machine has no non-loopback IPv4 interface to connect from');
    const select = `SELECT count() AS n FROM ${table}`;
    const remote = await post(`http://${address}:${server.port}/sql`, select);
    assert.deepEqual([remote.status, errorCode(remote)], [403, 'FORBIDDEN']);
    assert.match(JSON.parse(remote.body).error, /answers loopback clients only/);
    const withToken = await post(`http://${address}:${server.port}/sql-token?format=TabSeparated`, select, { Authorization: `Bearer ${TOKEN}` });
    assert.deepEqual([withToken.status, withToken.body], [200, '3\n']);
  });

  test('writes and side doors are refused; the data and the other session stay as they were', async () => {
    const refused: Array<[string, number, string]> = [
      [`INSERT INTO ${table} VALUES (4, 'delta', 1)`, 403, 'NOT_READ_ONLY'],
      [`DROP TABLE ${table}`, 403, 'NOT_READ_ONLY'],
      [`ALTER TABLE ${table} DELETE WHERE 1`, 403, 'NOT_READ_ONLY'],
      [`CREATE TABLE x_${table} (a UInt8) ENGINE = Memory`, 403, 'NOT_READ_ONLY'],
      [`OPTIMIZE TABLE ${table} FINAL`, 403, 'NOT_READ_ONLY'],
      ['SET readonly = 0', 403, 'NOT_READ_ONLY'],
      ['SYSTEM SHUTDOWN', 403, 'NOT_READ_ONLY'],
      [`DESCRIBE TABLE ${table}`, 403, 'NOT_READ_ONLY'],
      [`SHOW TABLES`, 403, 'NOT_READ_ONLY'],
      [`/* comment */ INSERT INTO ${table} SELECT * FROM ${table}`, 403, 'NOT_READ_ONLY'],
      [`SELECT 1; DROP TABLE ${table}`, 400, 'BAD_REQUEST'],
      ["SELECT 1 INTO OUTFILE '/tmp/tributary-sql-outfile'", 403, 'NOT_READ_ONLY'],
      ["SELECT 'x' # '\nINTO OUTFILE '/tmp/tributary-sql-outfile' TRUNCATE -- '", 403, 'NOT_READ_ONLY'],
      [`SELECT * FROM ${table} SETTINGS readonly = 0`, 403, 'NOT_ALLOWED'],
      [`SELECT * FROM (SELECT * FROM ${table} SETTINGS max_result_rows = 1000)`, 403, 'NOT_ALLOWED'],
      ["SELECT * FROM file('/etc/hostname', 'TSV', 'line String')", 403, 'NOT_ALLOWED'],
      ["SELECT file('/etc/hostname')", 403, 'NOT_ALLOWED'],
      ["SELECT * FROM url('http://127.0.0.1:9/', 'TSV', 'line String')", 403, 'NOT_ALLOWED'],
      ['SELECT * FROM system.one', 403, 'NOT_ALLOWED'],
      [`SELECT * FROM otherdb.${table}`, 403, 'NOT_ALLOWED'],
      [`SELECT id FROM ${table} WHERE id IN ${table}`, 403, 'NOT_ALLOWED'],
    ];
    for (const [statement, status, code] of refused) {
      const answer = await sql(statement);
      assert.deepEqual([answer.status, errorCode(answer)], [status, code], statement);
    }
    // Every one of them is in the audit trail, refused, with the reason and who asked.
    const refusals = audit.events.filter((event) => event.outcome === 'refused' && event.details?.format === 'JSON');
    assert.ok(refusals.length >= refused.length, `${refusals.length} refusals recorded`);
    const settings = audit.events.find((event) => typeof event.details?.query === 'string' && (event.details.query as string).includes('SETTINGS readonly = 0'));
    assert.deepEqual(
      { ...settings, details: { ...settings?.details, remote: undefined } },
      { action: 'sql.query', principal: 'loopback', role: 'analyst', outcome: 'refused', reason: 'SETTINGS clauses are not allowed: the limits of analyst queries are fixed', details: { query: `SELECT * FROM ${table} SETTINGS readonly = 0`, rows: undefined, format: 'JSON', remote: undefined } },
    );
    assert.equal(await count(), 3);
    // The engine's own session still writes: readonly=1 was set in the analyst's session only.
    await client.command({ query: `INSERT INTO ${table} VALUES (4, 'delta', 1.25)` });
    assert.equal(await count(), 4);
  });

  test('roles: analysts read the listed tables, admins every table of the database', async () => {
    const hidden = `${table}_letters`;
    await client.command({ query: `CREATE TABLE ${hidden} (x String) ENGINE = MergeTree ORDER BY x` });
    await client.command({ query: `INSERT INTO ${hidden} VALUES ('raw bytes')` });
    try {
      const select = `SELECT x FROM ${hidden}`;
      const asAnalyst = await sql(select, { path: '/sql-token', headers: { Authorization: `Bearer ${TOKEN}` } });
      assert.deepEqual([asAnalyst.status, errorCode(asAnalyst)], [403, 'NOT_ALLOWED']);
      assert.match(JSON.parse(asAnalyst.body).error, new RegExp(`analysts may not read the table ${hidden}`));
      const shadow = await sql(`SELECT * FROM (WITH ${hidden} AS (SELECT 1) SELECT * FROM ${hidden}), ${hidden}`, { path: '/sql-token', headers: { Authorization: `Bearer ${TOKEN}` } });
      assert.deepEqual([shadow.status, errorCode(shadow)], [403, 'NOT_ALLOWED']);
      const asAdmin = await sql(select, { path: '/sql-token', format: 'TabSeparated', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.deepEqual([asAdmin.status, asAdmin.body], [200, 'raw bytes\n']);
      // ?detokenize=1: analysts are refused; an engine without data protection has nothing to open.
      const detokenizeAs = (token: string) => post(`http://127.0.0.1:${server.port}/sql-token?detokenize=1`, select, { Authorization: `Bearer ${token}` });
      const analystDetokenize = await detokenizeAs(TOKEN);
      assert.deepEqual([analystDetokenize.status, errorCode(analystDetokenize)], [403, 'FORBIDDEN']);
      const adminDetokenize = await detokenizeAs(ADMIN_TOKEN);
      assert.deepEqual([adminDetokenize.status, errorCode(adminDetokenize)], [400, 'BAD_REQUEST']);
      assert.match(JSON.parse(adminDetokenize.body).error, /without data protection/);
      // Admins too stay in the database, and within the allowlist.
      const system = await sql('SELECT * FROM system.one', { path: '/sql-token', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.deepEqual([system.status, errorCode(system)], [403, 'NOT_ALLOWED']);
    } finally {
      await client.command({ query: `DROP TABLE IF EXISTS ${hidden}` });
    }
  });

  test('row limit: 5 rows are answered, 6 are a 422 (never a silently cut result)', async () => {
    const five = await sql('SELECT arrayJoin([0, 1, 2, 3, 4]) AS n', { format: 'TabSeparated' });
    assert.deepEqual([five.status, five.body], [200, '0\n1\n2\n3\n4\n']);
    const six = await sql('SELECT arrayJoin([0, 1, 2, 3, 4, 5]) AS n', { format: 'TabSeparated' });
    assert.deepEqual([six.status, errorCode(six)], [422, 'ROW_LIMIT']);
    assert.match(JSON.parse(six.body).error, /larger than the limit .*max rows: 5/i);
    // The audit trail has the answered query, normalized, with its rows and who asked.
    const answered = audit.events.find((event) => event.outcome === 'ok' && event.details?.query === 'SELECT arrayJoin([0, 1, 2, 3, 4]) AS n');
    assert.deepEqual(answered && { ...answered, details: { ...answered.details, remote: undefined } }, { action: 'sql.query', principal: 'loopback', role: 'analyst', outcome: 'ok', details: { query: 'SELECT arrayJoin([0, 1, 2, 3, 4]) AS n', rows: 5, format: 'TabSeparated', remote: undefined } });
    assert.equal(audit.events.find((event) => event.outcome === 'failed' && event.details?.query === 'SELECT arrayJoin([0, 1, 2, 3, 4, 5]) AS n')?.details?.rows, undefined);
  });

  test('time limit: an endless query is stopped after 1 s (504); meanwhile a second one is 429', async () => {
    await client.command({ query: `CREATE TABLE ${table}_big (n UInt64) ENGINE = MergeTree ORDER BY n` });
    await client.command({ query: `INSERT INTO ${table}_big SELECT number FROM system.numbers LIMIT 40000000` });
    const started = Date.now();
    // About four billion hashes (a quarter of them took chDB 1-2.7 s unbounded here, on two cores):
    // 40M rows rather than longer chains, which 18.16 refuses; chained inside the lambda so each
    // block's arrays stay small under the 64 MiB memory limit (and, on 18.16, without a subquery:
    // there max_result_rows also bounds subqueries).
    let hashes = 'x';
    for (let i = 0; i < 24; i++) hashes = `cityHash64(${hashes}, n)`;
    const endless = sql(`SELECT sum(arraySum(arrayMap(x -> ${hashes}, range(4)))) AS h FROM ${table}_big`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = await sql('SELECT 1');
    assert.deepEqual([second.status, second.headers['retry-after'], errorCode(second)], [429, '1', 'BUSY']);
    const answer = await endless;
    const elapsed = Date.now() - started;
    assert.deepEqual([answer.status, errorCode(answer)], [504, 'TIME_LIMIT']);
    assert.ok(elapsed >= 900 && elapsed < 2_500, `answered after ${elapsed} ms`);
    assert.equal((await sql('SELECT 1', { format: 'TabSeparated' })).body, '1\n');
    await client.command({ query: `DROP TABLE IF EXISTS ${table}_big` });
  });

  test('bad requests: errors as JSON with a status and a code', async () => {
    const cases: Array<[string, string | undefined, number, string]> = [
      ['', undefined, 400, 'BAD_REQUEST'],
      ['  ;  ', undefined, 400, 'BAD_REQUEST'],
      ['SELECT 1', 'XML', 400, 'BAD_REQUEST'],
      ['SELECT 1 FORMAT CSV', undefined, 400, 'BAD_REQUEST'],
      ["SELECT 'open", undefined, 400, 'BAD_REQUEST'],
      [`SELECT nope FROM ${table}`, undefined, 400, 'QUERY_ERROR'],
      [`SELECT * FROM no_such_table_${table}`, undefined, 403, 'NOT_ALLOWED'],
      [`SELECT 1 +`, undefined, 400, 'BAD_REQUEST'],
      ['SELECT 1; SELECT 2', undefined, 400, 'BAD_REQUEST'],
      [`SELECT '${'x'.repeat(70_000)}'`, undefined, 413, 'TOO_LARGE'],
    ];
    for (const [body, format, status, code] of cases) {
      const answer = await sql(body, { format });
      assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
      const parsed = JSON.parse(answer.body) as { error: string; code: string; status: number };
      assert.deepEqual([answer.status, parsed.code, parsed.status], [status, code, status], body.slice(0, 60));
      assert.ok(parsed.error.length > 0);
    }
    const get = await fetch(`http://127.0.0.1:${server.port}/sql`);
    assert.deepEqual([get.status, get.headers.get('allow'), ((await get.json()) as { code: string }).code], [405, 'POST', 'METHOD_NOT_ALLOWED']);
  });
}

test('a ClickHouse that never answers: the endpoint answers 504 by its own deadline', async () => {
  const silent = await listenSilently();
  const port = (silent.address() as { port: number }).port;
  const server = await startPushServer({
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger,
    extraRoutes: (app) => registerSqlRoute(app, { clickhouse: { url: `http://127.0.0.1:${port}`, analyst: { user: 'analyst', password: 'x' } }, analystTables: [], logger: silentLogger, credentials: {}, limits: { timeoutMs: 1_000 } }),
  });
  try {
    const started = Date.now();
    const answer = await post(`${server.url}/sql`, 'SELECT 1');
    const elapsed = Date.now() - started;
    assert.deepEqual([answer.status, errorCode(answer)], [504, 'TIME_LIMIT']);
    assert.ok(elapsed >= 1_900 && elapsed < 3_000, `answered after ${elapsed} ms (deadline: 1 s limit + 1 s)`);
  } finally {
    await server.close();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test('a ClickHouse server without an analyst user, or with one that is not locked down: 503, deny by default', async () => {
  const clickhouse = await startPrivateClickHouse();
  const url = `${clickhouse.url}/${clickhouse.database}`;
  const server = await startPushServer({
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger,
    extraRoutes: (app) => {
      registerSqlRoute(app, { clickhouse: { url }, analystTables: [], logger: silentLogger, credentials: {} });
      registerSqlRoute(app, { clickhouse: { url, analyst: { user: 'default', password: '' } }, analystTables: [], logger: silentLogger, credentials: {}, path: '/sql-default' });
      registerSqlRoute(app, { clickhouse: { url, analyst: { ...clickhouse.analyst, password: 'wrong' } }, analystTables: [], logger: silentLogger, credentials: {}, path: '/sql-wrong' });
      registerSqlRoute(app, { clickhouse: { url, analyst: clickhouse.analyst }, analystTables: [], logger: silentLogger, credentials: {}, path: '/sql-analyst' });
    },
  });
  try {
    const none = await post(`${server.url}/sql`, 'SELECT 1');
    assert.deepEqual([none.status, errorCode(none)], [503, 'UNAVAILABLE']);
    assert.match(JSON.parse(none.body).error, /CLICKHOUSE_ANALYST_USER/);
    const unlocked = await post(`${server.url}/sql-default`, 'SELECT 1');
    assert.deepEqual([unlocked.status, errorCode(unlocked)], [503, 'UNAVAILABLE']);
    assert.match(JSON.parse(unlocked.body).error, /not a locked-down analyst user: readonly is 0, needs 1; max_execution_time is 0/);
    const wrong = await post(`${server.url}/sql-wrong`, 'SELECT 1');
    assert.deepEqual([wrong.status, errorCode(wrong)], [503, 'UNAVAILABLE']);
    assert.ok(!wrong.body.includes(clickhouse.analyst.password));
    const analyst = await post(`${server.url}/sql-analyst?format=TabSeparated`, 'SELECT 1 + 1');
    assert.deepEqual([analyst.status, analyst.body], [200, '2\n']);
  } finally {
    await server.close();
    await clickhouse.stop();
  }
});

/** A TCP server that accepts connections and never says anything. */
async function listenSilently(): Promise<Server> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  const close = server.close.bind(server);
  server.close = ((callback?: (error?: Error) => void) => {
    sockets.forEach((s) => s.destroy());
    return close(callback);
  }) as typeof server.close;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
