import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '@clickhouse/client';
import { Engine } from '../../src/runtime/engine.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { CardPaymentModel } from '../../src/sources/generator/card-payments.ts';
import type { AuditEvent, AuditTrail } from '../../src/audit/audit-trail.ts';
import { CARD_FRAUD_GOVERNANCE, createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { engineConfig, queryRows, REPO_ROOT, requireService, uniqueName, waitFor } from '../helpers/services.ts';
import { startPrivateClickHouse } from '../helpers/private-clickhouse.ts';
import { errorCode, post } from '../helpers/sql-http.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { hmacKeyFrom, pseudonymOf } from '../helpers/canaries.ts';

const run = promisify(execFile);
const START = Date.UTC(2026, 10, 5, 9, 0, 0);
/** Written here, not imported: the token format as README "Data protection" describes it. */
const TOKEN = /^tok1\.h1_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{38,}$/;

type Row = { cardId: string; windowEnd: string; sum1m: unknown; count1m: string };

test('POST /sql?detokenize=1: admins read tokenized card ids and sums in clear, analysts are refused, erased cards stay tokens and are counted, every query is audited', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('detok')}_`;
  const keyPrefix = `${uniqueName('tkeys')}:`;
  const redisUrl = requireService('REDIS_URL');
  const server = await startPrivateClickHouse();
  t.after(() => server.stop());
  const [analystToken, adminToken] = [randomBytes(24).toString('hex'), randomBytes(24).toString('hex')];
  const saved = { ...process.env };
  Object.assign(process.env, { CLICKHOUSE_ANALYST_USER: server.analyst.user, CLICKHOUSE_ANALYST_PASSWORD: server.analyst.password, TRIBUTARY_SQL_TOKEN: analystToken, TRIBUTARY_SQL_ADMIN_TOKEN: adminToken });
  t.after(() => {
    for (const name of ['CLICKHOUSE_ANALYST_USER', 'CLICKHOUSE_ANALYST_PASSWORD', 'TRIBUTARY_SQL_TOKEN', 'TRIBUTARY_SQL_ADMIN_TOKEN']) if (saved[name] === undefined) delete process.env[name];
  });
  const config = engineConfig({ clickhouseUrl: `${server.url}/${server.database}`, governance: { keyStore: { kind: 'redis', prefix: keyPrefix } } });
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 2 });
  const ch = createClient({ url: server.url, database: server.database });
  const dir = mkdtempSync(path.join(tmpdir(), 'detok-'));
  const events: AuditEvent[] = [];
  const trail: AuditTrail = { record: async (event) => void events.push(event), close: async () => {} };

  // 20 cards, 4 minutes of payments. The card id (direct) and sum1m (sensitive) reach ClickHouse as tokens.
  const generator = new CardPaymentModel({ seed: 31, cards: 20, lateShare: 0 });
  const payments = Array.from({ length: 1_200 }, (_, i) => generator.next(START + i * 200).payment);
  const expected = referenceCardFeatures(payments);
  const governance = { ...CARD_FRAUD_GOVERNANCE, fields: { cardId: { clickhouse: 'token' as const }, sum1m: { clickhouse: 'token' as const } } };
  const engine = await Engine.start(createCardFraudTopology({ topic: paymentsTopic.topic, tablePrefix: prefix, statePrefix: prefix, governance }), { config, logger: silentLogger, push: true, audit: { trail } });
  t.after(async () => {
    await engine.stop();
    await paymentsTopic.close();
    await ch.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await paymentsTopic.send(payments);
  await waitFor('payments processed', async () => engine.stats().processedRecords, (n) => n >= payments.length, 90_000);
  await paymentsTopic.sendWatermarkEvents(payments, 6 * 60_000);
  const countRows = async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}card_features`))[0]!.n);
  await waitFor('features', countRows, (n) => n >= expected.length, 120_000);

  const url = `http://127.0.0.1:${engine.environment.pushServer!.port}/sql`;
  const select = `SELECT cardId, windowEnd, sum1m, count1m FROM ${prefix}card_features`;
  const ask = (query: string, token: string) => post(`${url}${query}`, select, { authorization: `Bearer ${token}` });
  const reference = new Map(expected.map((f) => [`${f.cardId}|${f.windowEnd}`, f]));

  // The analyst: tokens as stored; detokenizing is refused, and so is a CSV answer for the admin.
  const stored = await ask('?format=JSON', analystToken);
  assert.equal(stored.status, 200, stored.body);
  const storedRows = (JSON.parse(stored.body) as { data: Row[] }).data;
  assert.equal(storedRows.length, expected.length);
  assert.ok(storedRows.every((r) => TOKEN.test(r.cardId) && TOKEN.test(String(r.sum1m))), 'card ids and sums are tokens for analysts');
  const refused = await ask('?format=JSON&detokenize=1', analystToken);
  assert.deepEqual([refused.status, errorCode(refused)], [403, 'FORBIDDEN']);
  assert.match(JSON.parse(refused.body).error, /only the admin role may detokenize/);
  const csv = await ask('?format=CSV&detokenize=1', adminToken);
  assert.deepEqual([csv.status, errorCode(csv)], [400, 'BAD_REQUEST']);

  // The admin: every card id and sum in clear, equal to the reference computed from the payments.
  const clear = await ask('?format=JSON&detokenize=1', adminToken);
  assert.equal(clear.status, 200, clear.body);
  const answer = JSON.parse(clear.body) as { data: Row[]; detokenize: unknown };
  assert.deepEqual(answer.detokenize, { opened: 2 * expected.length, erased: 0, unreadable: 0 });
  assert.equal(clear.headers['x-tributary-detokenized'], `opened=${2 * expected.length}, erased=0, unreadable=0`);
  for (const row of answer.data) {
    const f = reference.get(`${row.cardId}|${row.windowEnd}`);
    assert.ok(f, `a reference window for ${row.cardId}@${row.windowEnd}`);
    assert.deepEqual([Math.round((row.sum1m as number) * 100), Number(row.count1m)], [Math.round(f.sum1m * 100), f.count1m]);
    reference.delete(`${row.cardId}|${row.windowEnd}`);
  }
  assert.equal(reference.size, 0, 'every reference window was read back in clear');

  // Values inside a JSON text column open once the query extracts them: far-late amounts.
  const cards = [...new Set(expected.map((f) => f.cardId))].sort();
  const maxTs = Math.max(...payments.map((p) => p.ts));
  const late = cards.slice(3, 6).map((cardId, i) => ({ ...payments.find((p) => p.cardId === cardId)!, paymentId: `late-${i}`, amount: 1000 + i + 0.25, ts: maxTs - 10 * 60_000 }));
  await paymentsTopic.producer.send(paymentsTopic.topic, late.map((p) => ({ key: p.cardId, value: paymentsTopic.encode(p) })));
  const lateRows = async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}late_records`))[0]!.n);
  await waitFor('late records', lateRows, (n) => n >= 2 * late.length, 60_000);
  const lateAnswer = await post(`${url}?format=JSONEachRow&detokenize=1`, `SELECT visitParamExtractString(payload, 'amount') AS amount FROM ${prefix}late_records`, { authorization: `Bearer ${adminToken}` });
  assert.equal(lateAnswer.status, 200, lateAnswer.body);
  const lateAmounts = lateAnswer.body.trim().split('\n').map((line) => (JSON.parse(line) as { amount: unknown }).amount);
  assert.deepEqual(lateAmounts.sort(), [1000.25, 1000.25, 1001.25, 1001.25, 1002.25, 1002.25]);

  // Erase 3 cards through the CLI while the engine runs: their tokens stay tokens, and are counted.
  const erased = cards.slice(0, 3);
  const env = { ...process.env, TRIBUTARY_KEY_STORE_PREFIX: keyPrefix, FRAUD_TEST_TOPIC: paymentsTopic.topic, FRAUD_TEST_PREFIX: prefix, TRIBUTARY_AUDIT_LOG: path.join(dir, 'audit.jsonl'), TRIBUTARY_AUDIT_TABLE: 'off' };
  const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO_ROOT, env, timeout: 120_000 });
  await cli('erase', '--topology', 'test/fixtures/card-fraud-governed.ts', '--subject', ...erased);
  const erasedRows = expected.filter((f) => erased.includes(f.cardId)).length;
  const after = await ask('?format=JSONEachRow&detokenize=1', adminToken);
  assert.equal(after.status, 200, after.body);
  assert.equal(after.headers['x-tributary-detokenized'], `opened=${2 * (expected.length - erasedRows)}, erased=${2 * erasedRows}, unreadable=0`);
  const afterRows = after.body.trim().split('\n').map((line) => JSON.parse(line) as Row);
  const hmacKey = await hmacKeyFrom(redisUrl, keyPrefix);
  const storedByToken = new Map(storedRows.map((r) => [r.cardId, r]));
  const unreadable = afterRows.filter((r) => TOKEN.test(r.cardId));
  assert.equal(unreadable.length, erasedRows);
  for (const row of unreadable) {
    // The very token the analyst read, of one of the erased cards (its pseudonym says which).
    assert.deepEqual(row, storedByToken.get(row.cardId));
    assert.ok(erased.some((card) => row.cardId.startsWith(`tok1.${pseudonymOf(hmacKey, card)}.`)));
  }
  assert.deepEqual([...new Set(afterRows.filter((r) => !TOKEN.test(r.cardId)).map((r) => r.cardId))].sort(), cards.slice(3));

  // tributary query --detokenize goes through the same endpoint.
  const viaCli = await cli('query', '--detokenize', '--format', 'json', '--url', url.replace(/\/sql$/, ''), '--token', adminToken, `SELECT cardId FROM ${prefix}card_features`);
  const cliCards = (JSON.parse(viaCli.stdout) as Array<{ cardId: string }>).map((row) => row.cardId);
  assert.equal(cliCards.length, expected.length);
  assert.deepEqual([...new Set(cliCards.filter((c) => !TOKEN.test(c)))].sort(), cards.slice(3));
  assert.match(viaCli.stderr, new RegExp(`${expected.length - erasedRows} token\\(s\\) detokenized; ${erasedRows} of erased subjects and 0 unreadable left as tokens`));

  // The audit trail: each detokenizing query, with who asked and what was opened.
  const detokenizing = events.filter((e) => e.action === 'sql.query' && e.details?.detokenize === true);
  assert.deepEqual(detokenizing.map((e) => [e.role, e.outcome, e.details?.format, e.details?.detokenized]), [
    ['analyst', 'refused', 'JSON', undefined],
    ['admin', 'refused', 'CSV', undefined],
    ['admin', 'ok', 'JSON', { opened: 2 * expected.length, erased: 0, unreadable: 0 }],
    ['admin', 'ok', 'JSONEachRow', { opened: 6, erased: 0, unreadable: 0 }],
    ['admin', 'ok', 'JSONEachRow', { opened: 2 * (expected.length - erasedRows), erased: 2 * erasedRows, unreadable: 0 }],
    ['admin', 'ok', 'JSON', { opened: expected.length - erasedRows, erased: erasedRows, unreadable: 0 }],
  ]);
  assert.ok(events.every((e) => !JSON.stringify(e).includes(cards[5]!)), 'no clear card id in the audit trail');
});
