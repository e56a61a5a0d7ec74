import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { createClient } from '@clickhouse/client';
import { startEngineProcess } from '../helpers/engine-process.ts';
import { freePort } from '../helpers/free-port.ts';
import { runCli, runNode } from '../helpers/run-cli.ts';
import { REPO_ROOT, requireService, uniqueName, waitFor } from '../helpers/services.ts';

const TOPOLOGY = 'test/fixtures/card-fraud-from-env.ts';
/** Secrets that must never reach the audit file or table. */
const CANARIES = {
  TRIBUTARY_WS_SECRET: 'canary-ws-secret-0123456789abcdef0123456789',
  TRIBUTARY_SQL_TOKEN: 'canary-sql-token-0123456789',
  TRIBUTARY_METRICS_TOKEN: 'canary-metrics-token-0123456789',
  TRIBUTARY_TEST_API_KEY: 'canary-api-key',
};

interface Entry {
  seq: number;
  action: string;
  principal: string;
  target?: string;
  outcome: string;
  reason?: string;
  before?: Record<string, string>;
  after?: Record<string, string>;
  details?: Record<string, unknown>;
  hash: string;
}

/** A refused upgrade: the HTTP status it got. */
function refusedUpgrade(url: string): Promise<number> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.once('open', () => reject(new Error('the upgrade was accepted')));
    socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.once('error', () => {});
  });
}

/**
 * Rows of a SELECT: read directly from a server (tributary query needs its read-only analyst user
 * there, which this test's tables in the default database are not for), through the CLI from chDB.
 */
async function selectRows<T>(server: boolean, sql: string, env: NodeJS.ProcessEnv): Promise<T[]> {
  if (server) {
    const client = createClient({ url: requireService('CLICKHOUSE_URL') });
    try {
      return await (await client.query({ query: sql, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json<T>();
    } finally {
      await client.close();
    }
  }
  const answer = await runCli(['query', sql, '--format', 'json'], env);
  assert.equal(answer.code, 0, answer.stderr);
  return JSON.parse(answer.stdout) as T[];
}

const targets = [
  { label: 'ClickHouse 18.16 server', server: true, env: () => ({ CLICKHOUSE_URL: requireService('CLICKHOUSE_URL') }) },
  { label: 'embedded chDB', server: false, env: (dir: string) => ({ CLICKHOUSE_DATA_DIR: path.join(dir, 'chdb') }) },
];

for (const target of targets) {
  test(`${target.label}: an engine run and CLI commands leave a verifiable audit trail in the file and the table, without secrets`, { timeout: 300_000 }, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'audit-run-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const prefix = `${uniqueName('audit')}_`;
    const table = `${prefix}audit_log`;
    const file = path.join(dir, 'audit', 'audit.jsonl');
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, ...CANARIES, ...target.env(dir), PORT: String(port), FRAUD_TEST_TOPIC: 'unused', FRAUD_TEST_PREFIX: prefix, TRIBUTARY_AUDIT_LOG: file, TRIBUTARY_AUDIT_TABLE: table, LOG_LEVEL: 'warn' };
    for (const name of ['KAFKA_BROKERS', 'REDIS_URL', ...(target.label.includes('chDB') ? ['CLICKHOUSE_URL'] : [])]) delete env[name];

    // 1. The engine on its demo generator: refused upgrades and a refused /metrics, then SIGTERM.
    const engine = startEngineProcess(env);
    t.after(() => void engine.child.kill('SIGKILL'));
    await waitFor('the engine banner', async () => engine.output(), (output) => output.includes('is running.'), 120_000);
    const base = `http://127.0.0.1:${port}`;
    assert.equal(await refusedUpgrade(`ws://127.0.0.1:${port}/ws`), 401);
    assert.equal(await refusedUpgrade(`ws://127.0.0.1:${port}/ws?token=canary-not-a-token`), 401);
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    await waitFor('payments in ClickHouse', async () => (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${CANARIES.TRIBUTARY_METRICS_TOKEN}` } })).text(), (text) => /tributary_sink_rows_total\{[^}]*payments[^}]*\} [1-9]/.test(text), 60_000);
    engine.child.kill('SIGTERM');
    assert.equal(await engine.exited, 0, engine.output());

    // 2. A lifecycle change and a backfill through the CLI.
    const candidate = await runNode(['test/fixtures/register-candidate.ts', prefix], env);
    assert.equal(candidate.code, 0, candidate.stderr);
    const version = candidate.stdout.trim();
    const promoted = await runCli(['models', 'promote', TOPOLOGY, version], env);
    assert.equal(promoted.code, 0, promoted.stderr);
    const liveBefore = /retired/.test(promoted.stdout) ? /fraud-lr@([0-9a-f]{12}) retired/.exec(promoted.stdout)![1]! : '';
    const [{ first, last, n }] = await selectRows<{ first: number; last: number; n: number }>(target.server, `SELECT min(ts) AS first, max(ts) AS last, count() AS n FROM ${prefix}payments FINAL`, env);
    const backfill = await runCli(['backfill', TOPOLOGY, '--from', String(Number(first)), '--to', String(Number(last) + 1), '--no-progress'], env);
    assert.equal(backfill.code, 0, backfill.stderr);

    // 3. What the file holds, in order.
    const text = await readFile(file, 'utf8');
    for (const secret of Object.values(CANARIES)) assert.ok(!text.includes(secret), 'a secret in the audit file');
    assert.doesNotMatch(text, /canary/);
    const all = text.trimEnd().split('\n').map((line) => JSON.parse(line) as Entry);
    // The SQL endpoint's own entries (sql.*) are its tests' business; `tributary query` may add some.
    const entries = all.filter((entry) => !entry.action.startsWith('sql.'));
    const user = `cli:${userInfo().username}`;
    assert.deepEqual(
      entries.map((e) => [e.action, e.principal, e.outcome]),
      [
        ['engine.start', user, 'ok'],
        ['model.bootstrap', 'engine:card-fraud', 'ok'],
        ['ws.auth', 'anonymous', 'refused'],
        ['ws.auth', 'anonymous', 'refused'],
        ['metrics.auth', 'anonymous', 'refused'],
        ['engine.stop', user, 'ok'],
        ['model.promote', user, 'ok'],
        ['backfill.start', user, 'ok'],
        ['engine.start', user, 'ok'],
        ['engine.stop', user, 'ok'],
        ['backfill.run', user, 'ok'],
      ],
    );
    const [start, bootstrap, missing, malformed] = entries;
    const fixtureHash = createHash('sha256').update(await readFile(path.join(REPO_ROOT, TOPOLOGY))).digest('hex');
    assert.equal(start!.details!.topologySha256, fixtureHash);
    assert.match(String(start!.details!.configSha256), /^[0-9a-f]{64}$/);
    for (const name of ['TRIBUTARY_AUDIT_LOG', 'TRIBUTARY_METRICS_TOKEN', 'TRIBUTARY_SQL_TOKEN', 'TRIBUTARY_TEST_API_KEY', 'TRIBUTARY_WS_SECRET']) assert.ok((start!.details!.settings as string[]).includes(name), name);
    assert.deepEqual([missing!.reason, malformed!.reason, entries[4]!.reason], ['token_missing', 'malformed', 'token_missing']);
    assert.deepEqual(bootstrap!.after, { [liveBefore]: 'live' });
    assert.deepEqual([entries[6]!.target, entries[6]!.before, entries[6]!.after], [`fraud-lr@${version}`, { [version]: 'candidate', [liveBefore]: 'live' }, { [version]: 'live', [liveBefore]: 'retired' }]);
    assert.equal(entries[10]!.details!.events, Number(n));

    // 4. verify passes on the file and on the table, which holds the same entries.
    const verified = await runCli(['audit', 'verify'], env);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.equal(verified.stdout.split('\n')[0], `audit log ${file}: ${all.length} entries, chain intact; last seq ${all.length}, last hash ${all.at(-1)!.hash}`);
    const withTable = await runCli(['audit', 'verify', '--clickhouse'], env);
    assert.equal(withTable.code, 0, withTable.stdout + withTable.stderr);
    assert.match(withTable.stdout, new RegExp(`table ${table}: ${all.length} entries, chain intact and equal to the file`));
    const leaks = await selectRows<{ n: number }>(target.server, `SELECT count() AS n FROM ${table} WHERE positionCaseInsensitive(entry, 'canary') > 0 OR positionCaseInsensitive(reason, 'canary') > 0`, env);
    assert.deepEqual(leaks.map((row) => Number(row.n)), [0]);

    // 5. Tampered copies fail, naming the entry.
    const lines = text.trimEnd().split('\n');
    const tampered = async (name: string, edited: string[]) => {
      const copy = path.join(dir, `${name}.jsonl`);
      await writeFile(copy, edited.join('\n') + '\n');
      const result = await runCli(['audit', 'verify', '--file', copy], env);
      assert.equal(result.code, 1, name);
      return result.stdout;
    };
    assert.match(await tampered('edited', lines.map((line, i) => (i === 6 ? line.replace(/"time":(\d+)/, (_, time: string) => `"time":${Number(time) + 1}`) : line))), /entry seq 7 \(line 7\) hashes to .*: the entry was edited/);
    assert.match(await tampered('deleted', lines.filter((_, i) => i !== 3)), /entry seq 5 \(line 4\) follows entry seq 3: entry seq 4 is missing \(deleted\)/);
    assert.match(await tampered('reordered', [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)]), /entry seq 3 \(line 2\) comes before entry seq 2 \(line 3\): entries were reordered/);
    // The newest entry cut from the file: only the table shows it.
    await copyFile(file, path.join(dir, 'original.jsonl'));
    await writeFile(file, lines.slice(0, -1).join('\n') + '\n');
    const truncated = await runCli(['audit', 'verify', '--clickhouse'], env);
    assert.equal(truncated.code, 1);
    assert.match(truncated.stdout, new RegExp(`the file ends at seq ${lines.length - 1} but the table holds entries up to seq ${lines.length}: entry seq ${lines.length} deleted from the end of the file`));
  });
}
