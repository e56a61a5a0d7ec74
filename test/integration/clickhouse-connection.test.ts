import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { silentLogger } from '../../src/observability/logger.ts';
import { connectClickHouse, detectDialect } from '../../src/clickhouse/connection.ts';

function requiredUrl(): string {
  const url = process.env.CLICKHOUSE_URL;
  if (!url) throw new Error('CLICKHOUSE_URL is not set: run the integration tests through scripts/test.sh, which starts ClickHouse');
  return url;
}

/** A loopback port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a closed port fails with a ConnectionError naming the URL after bounded, logged retries', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
  const started = Date.now();
  await assert.rejects(connectClickHouse({ url, logger, retry: { maxAttempts: 4, initialDelayMs: 50, maxDelayMs: 200 } }), (error: Error & { service?: string; retriable?: boolean }) => {
    assert.equal(error.name, 'ConnectionError');
    assert.equal(error.service, 'ClickHouse');
    assert.equal(error.retriable, false, 'its own retries are used up: retriable means one thing everywhere');
    assert.match(error.message, new RegExp(`^ClickHouse: ${url} unreachable after 4 attempts \\(ECONNREFUSED\\)`));
    return true;
  });
  assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
  const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
  assert.equal(messages.length, 3);
  messages.forEach((message, i) => assert.match(message, new RegExp(`^ClickHouse at ${url} unreachable \\(ECONNREFUSED\\), retrying in \\d+ ms \\(attempt ${i + 2}/4\\)$`)));
});

test('an invalid CLICKHOUSE_URL is a ConfigError with the fix', async () => {
  for (const url of ['localhost:8123', 'tcp://127.0.0.1:9000']) {
    await assert.rejects(connectClickHouse({ url, logger: silentLogger }), (error: Error & { field?: string }) => {
      assert.equal(error.name, 'ConfigError');
      assert.equal(error.field, 'CLICKHOUSE_URL');
      assert.match(error.message, /Fix: use /);
      return true;
    });
  }
});

test('the password in a URL never reaches the error message', async () => {
  const url = `http://reader:s3cret@127.0.0.1:${await closedPort()}`;
  await assert.rejects(connectClickHouse({ url, logger: silentLogger, retry: { maxAttempts: 1 } }), (error: Error) => {
    assert.doesNotMatch(error.message, /s3cret/);
    assert.match(error.message, /http:\/\/reader:\*\*\*@127\.0\.0\.1:/);
    return true;
  });
});

test('the 18.16 server: dialect detected from its system tables', async () => {
  const client = await connectClickHouse({ url: requiredUrl(), logger: silentLogger });
  try {
    const dialect = await detectDialect(client);
    assert.equal(dialect.major, 18);
    assert.match(dialect.version, /^18\.16\./);
    assert.deepEqual(
      { ...dialect, version: undefined, major: undefined, minor: undefined },
      {
        version: undefined, major: undefined, minor: undefined,
        supportsDateTime64: false, supportsLowCardinality: true, supportsMap: false, supportsInsertDeduplicationToken: false, supportsDeduplicationWindow: false,
        supportsAsyncInsert: false, supportsColumnComments: true, quotes64BitIntegersInJson: true, supportsJsonCompactEachRow: false,
      },
    );
    assert.equal(await detectDialect(client), dialect, 'detected once per client');
  } finally {
    await client.close();
  }
});

test('the 18.16 server: an unknown database is a ConfigError naming CLICKHOUSE_URL and the database, not endless retries', async () => {
  await assert.rejects(connectClickHouse({ url: requiredUrl(), database: 'no_such_db_tributary', logger: silentLogger }), (error: Error & { field?: string }) => {
    assert.equal(error.name, 'ConfigError');
    assert.equal(error.field, 'CLICKHOUSE_URL');
    assert.match(error.message, /database "no_such_db_tributary" \(the path of the URL\) does not exist/);
    return true;
  });
  // The usual way: the database is the URL's path. The message names it (it printed "undefined").
  await assert.rejects(connectClickHouse({ url: `${requiredUrl().replace(/\/$/, '')}/no_such_db_in_path`, logger: silentLogger }), (error: Error & { field?: string }) => {
    assert.equal(error.field, 'CLICKHOUSE_URL');
    assert.match(error.message, /database "no_such_db_in_path"/);
    assert.doesNotMatch(error.message, /undefined/);
    return true;
  });
});

test('embedded chDB: current dialect, and a database option that sticks', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-chdb-'));
  const client = await connectClickHouse({ dataDir: dir, database: 'analytics', logger: silentLogger });
  try {
    const dialect = await detectDialect(client);
    assert.ok(dialect.major >= 23, `chDB reports ${dialect.version}`);
    assert.deepEqual(
      [dialect.supportsDateTime64, dialect.supportsLowCardinality, dialect.supportsMap, dialect.supportsInsertDeduplicationToken, dialect.supportsDeduplicationWindow, dialect.supportsAsyncInsert, dialect.supportsColumnComments, dialect.quotes64BitIntegersInJson, dialect.supportsJsonCompactEachRow],
      [true, true, true, true, true, true, true, false, true],
    );
    const [row] = await (await client.query({ query: 'SELECT currentDatabase() AS db', format: 'JSONEachRow' })).json<{ db: string }>();
    assert.equal(row!.db, 'analytics');
  } finally {
    await client.close();
    await rm(dir, { recursive: true, force: true });
  }
});
