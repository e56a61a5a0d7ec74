import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { secureServices, type SecureUser } from '../helpers/secure-services.ts';
import { uniqueName } from '../helpers/services.ts';

// The ClickHouse 18.16 users and HTTPS endpoint that scripts/services.sh configures, driven by
// @clickhouse/client alone (no src/ code). 18.16 answers errors as "Code: N, e.displayText() =
// DB::Exception: ..." (the client turns them into plain Errors); the codes are its own:
// 192 UNKNOWN_USER, 193 WRONG_PASSWORD, 291 DATABASE_ACCESS_DENIED, 164 READONLY, 396
// TOO_MANY_ROWS_OR_BYTES.

type Options = { database?: string; ca?: string; password?: string };

function connect(url: string, user: SecureUser, options: Options = {}): ClickHouseClient {
  return createClient({
    url, username: user.name, password: options.password ?? user.password(), log: { level: ClickHouseLogLevel.OFF },
    ...(options.database ? { database: options.database } : {}),
    ...(options.ca ? { tls: { ca_cert: Buffer.from(options.ca) } } : {}),
  });
}

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>();
}

const clickhouseError = (code: number, text: string) => (error: Error) => {
  assert.ok(error.message.startsWith(`Code: ${code}, `), `expected code ${code}, got: ${error.message}`);
  assert.ok(error.message.includes(text), `expected "${text}" in: ${error.message}`);
  return true;
};

/** A table with three rows in `database`, created by tributary; dropped after the test. */
async function tableOf(admin: ClickHouseClient, database: string): Promise<string> {
  const table = `${database}.${uniqueName('secure')}`;
  await admin.command({ query: `CREATE TABLE ${table} (id UInt32, amount Float64) ENGINE = MergeTree ORDER BY id` });
  await admin.insert({ table, values: [{ id: 1, amount: 1.5 }, { id: 2, amount: 2.25 }, { id: 3, amount: 4 }], format: 'JSONEachRow' });
  return table;
}

test('tributary: a password user over HTTP and over HTTPS verified against the CA; wrong passwords are refused', { timeout: 60_000 }, async (t) => {
  const { clickhouse, tls } = secureServices();
  const http = connect(clickhouse.url, clickhouse.tributary);
  const https = connect(clickhouse.httpsUrl, clickhouse.tributary, { ca: tls.ca });
  const table = await tableOf(http, clickhouse.analyticsDatabase);
  t.after(async () => {
    await http.command({ query: `DROP TABLE IF EXISTS ${table}` });
    await Promise.all([http.close(), https.close()]);
  });
  assert.deepEqual(await rows(https, `SELECT count() AS n, sum(amount) AS total FROM ${table}`), [{ n: '3', total: 7.75 }]);

  const wrong = connect(clickhouse.url, clickhouse.tributary, { password: 'wrong-password' });
  await assert.rejects(rows(wrong, 'SELECT 1'), clickhouseError(193, 'Wrong password for user tributary'));
  const nobody = connect(clickhouse.url, { ...clickhouse.tributary, name: uniqueName('nobody') }, { password: 'x' });
  await assert.rejects(rows(nobody, 'SELECT 1'), clickhouseError(192, 'Unknown user nobody_'));
  const stranger = connect(clickhouse.httpsUrl, clickhouse.tributary, { ca: '' });
  await assert.rejects(rows(stranger, 'SELECT 1'), (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', error.message);
    return true;
  });
  await Promise.all([wrong.close(), nobody.close(), stranger.close()]);
});

test('analyst: reads its database, nothing else, writes nothing, and cannot lift readonly or its limits', { timeout: 60_000 }, async (t) => {
  const { clickhouse } = secureServices();
  const admin = connect(clickhouse.url, clickhouse.tributary);
  const analyst = connect(clickhouse.url, clickhouse.analyst, { database: clickhouse.analyticsDatabase });
  const allowed = await tableOf(admin, clickhouse.analyticsDatabase);
  const elsewhere = await tableOf(admin, 'default');
  t.after(async () => {
    for (const table of [allowed, elsewhere]) await admin.command({ query: `DROP TABLE IF EXISTS ${table}` });
    await Promise.all([admin.close(), analyst.close()]);
  });

  assert.deepEqual(await rows(analyst, `SELECT id, amount FROM ${allowed} ORDER BY id`), [{ id: 1, amount: 1.5 }, { id: 2, amount: 2.25 }, { id: 3, amount: 4 }]);
  const denied = clickhouseError(291, 'Access denied to database default for user analyst');
  await assert.rejects(rows(analyst, `SELECT count() FROM ${elsewhere}`), denied);
  await assert.rejects(rows(analyst, `SELECT count() FROM ${allowed} WHERE id IN (SELECT id FROM ${elsewhere})`), denied);
  // system.* is readable, but its tables, columns and databases list only what analyst may read.
  assert.deepEqual(await rows(analyst, 'SELECT DISTINCT database FROM system.tables ORDER BY database'), [{ database: 'system' }, { database: clickhouse.analyticsDatabase }]);
  assert.deepEqual(await rows(analyst, `SELECT count() AS n FROM system.columns WHERE database = 'default'`), [{ n: '0' }]);

  await assert.rejects(analyst.insert({ table: allowed, values: [{ id: 4, amount: 1 }], format: 'JSONEachRow' }), clickhouseError(164, 'Cannot insert into table in readonly mode'));
  await assert.rejects(analyst.command({ query: `DROP TABLE ${allowed}` }), clickhouseError(164, 'Cannot drop table in readonly mode'));
  await assert.rejects(analyst.command({ query: 'SET readonly = 0' }), clickhouseError(164, 'Cannot execute SET query in readonly mode'));
  await assert.rejects(rows(analyst, `SELECT * FROM (SELECT count() FROM ${allowed} SETTINGS readonly = 0)`), clickhouseError(164, 'Cannot execute SET query in readonly mode'));
  await assert.rejects(analyst.query({ query: 'SELECT 1', clickhouse_settings: { readonly: '0' } }), clickhouseError(164, 'Cannot override setting (readonly) in readonly mode'));
  await assert.rejects(analyst.query({ query: 'SELECT 1', clickhouse_settings: { max_result_rows: '0' } }), clickhouseError(164, 'Cannot override setting (max_result_rows) in readonly mode'));
  await assert.rejects(rows(analyst, "SELECT * FROM file('users.xml', 'TSV', 'line String')"), clickhouseError(164, 'Table functions are forbidden in readonly mode'));
  // wait_end_of_query (an HTTP parameter, not a setting) buffers the answer, so the limit's error
  // is the response instead of a tail after the first rows.
  const tooMany = analyst.query({ query: 'SELECT number FROM system.numbers LIMIT 200000', format: 'JSONEachRow', clickhouse_settings: { wait_end_of_query: 1 } });
  await assert.rejects(tooMany, clickhouseError(396, 'Limit for result exceeded, max rows: 100.00 thousand'));
  assert.deepEqual(await rows(analyst, "SELECT name, value FROM system.settings WHERE name IN ('readonly', 'max_memory_usage', 'max_threads', 'max_execution_time') ORDER BY name"), [
    { name: 'max_execution_time', value: '30' }, { name: 'max_memory_usage', value: '268435456' }, { name: 'max_threads', value: '2' }, { name: 'readonly', value: '1' },
  ]);
  assert.deepEqual(await rows(admin, `SELECT count() AS n FROM ${allowed}`), [{ n: '3' }]);
});
