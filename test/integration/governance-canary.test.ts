import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Engine } from '../../src/runtime/engine.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { signPushToken } from '../../src/push/push-token.ts';
import { RedisKeyStore } from '../../src/governance/redis-key-store.ts';
import { detokenizeAll, openDeadLetter } from '../../src/governance/detokenize.ts';
import { CARD_FRAUD_GOVERNANCE, createCardFraudTopology } from '../../topologies/card-fraud.ts';
import type { CardFeatures } from '../../topologies/card-fraud-features.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures } from '../helpers/fraud-reference.ts';
import { createClient } from '@clickhouse/client';
import { analystTables } from '../../src/runtime/analyst-tables.ts';
import { engineConfig, queryRows, uniqueName, waitFor } from '../helpers/services.ts';
import { startPrivateClickHouse } from '../helpers/private-clickhouse.ts';
import { post } from '../helpers/sql-http.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { canariesIn, canaryPayments, dumpClickHouse, dumpRedis, hmacKeyFrom, isTwoDigitCut, pseudonymOf, rawSubscriber } from '../helpers/canaries.ts';
import { readTopic } from '../helpers/read-topic.ts';
import { startPrivateRedis } from '../helpers/private-redis.ts';

const START = Date.UTC(2026, 10, 3, 9, 0, 0);
const PARTITIONS = 3;

test('canaries in every tagged field leave the engine in clear nowhere: ClickHouse (as the analyst through SQL and as the admin), Redis, WebSocket frames, logs, the dead-letter topic; features over pseudonyms equal the reference', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('gov')}_`;
  const keyPrefix = `${uniqueName('tkeys')}:`;
  const secret = randomBytes(24).toString('hex');
  // A Redis of its own: every key and value is scanned for canaries, and other files' in-clear state
  // in the shared Redis may hold a sum equal to a canary amount.
  const privateRedis = await startPrivateRedis();
  t.after(() => privateRedis.stop());
  const redisUrl = privateRedis.url;
  // A private 18.16 server with a read-only analyst user, which POST /sql needs on a server.
  const server = await startPrivateClickHouse();
  t.after(() => server.stop());
  const sqlToken = randomBytes(24).toString('hex');
  const saved = { ...process.env };
  Object.assign(process.env, { REDIS_URL: redisUrl, CLICKHOUSE_ANALYST_USER: server.analyst.user, CLICKHOUSE_ANALYST_PASSWORD: server.analyst.password, TRIBUTARY_SQL_TOKEN: sqlToken });
  t.after(() => {
    for (const name of ['REDIS_URL', 'CLICKHOUSE_ANALYST_USER', 'CLICKHOUSE_ANALYST_PASSWORD', 'TRIBUTARY_SQL_TOKEN']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
  const config = engineConfig({ clickhouseUrl: `${server.url}/${server.database}`, governance: { keyStore: { kind: 'redis', prefix: keyPrefix } }, websocket: { auth: { secret } } });
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS });
  const { topic, admin, producer, encode } = paymentsTopic;
  const dlqTopic = `${topic}.dlq`;
  await admin.createTopic(dlqTopic, { partitions: 1 });
  const logDir = mkdtempSync(path.join(tmpdir(), 'canary-logs-'));
  const logFile = path.join(logDir, 'engine.log');
  const logger = createLogger('tributary:card-fraud', 'debug', pino.destination({ dest: logFile, sync: true }));
  const ch = createClient({ url: server.url, database: server.database });

  // 2,400 ordinary payments over 8 minutes of 40 cards, and 8 canary payments among them.
  const generator = new CardPaymentModel({ seed: 11, cards: 40, lateShare: 0, fraudRate: 0.01 });
  const ordinary = Array.from({ length: 2_400 }, (_, i) => generator.next(START + i * 200).payment);
  const canaries = canaryPayments(8, START + 30_000, 50_000);
  const valid = [...ordinary, ...canaries.payments].sort((a, b) => a.ts - b.ts);
  // Malformed records holding canaries: valid frames cut short, keyed by the canary card.
  const malformed = canaries.payments.slice(0, 3).map((p) => ({ key: p.cardId, value: encode(p).subarray(0, encode(p).length - 4) }));
  // Far-late records: canary payments ten minutes behind the watermark.
  const maxTs = valid[valid.length - 1]!.ts;
  const late = canaries.payments.slice(3, 6).map((p): Payment => ({ ...p, ts: maxTs - 10 * 60_000 }));

  const topology = createCardFraudTopology({ topic, tablePrefix: prefix, statePrefix: prefix, deadLetterTopic: dlqTopic, quarantineTable: 'quarantine', governance: CARD_FRAUD_GOVERNANCE });
  const engine = await Engine.start(topology, { config, logger, push: true });
  let stopped = false;
  t.after(async () => {
    if (!stopped) await engine.stop();
    await paymentsTopic.close();
    await ch.close();
    rmSync(logDir, { recursive: true, force: true });
  });
  const port = engine.environment.pushServer!.port;
  const analyst = await rawSubscriber(port, 'fraud', await signPushToken(secret, { channels: ['fraud'], expiresInSeconds: 600, subject: 'analyst-1' }));
  const adminClient = await rawSubscriber(port, 'fraud', await signPushToken(secret, { channels: ['fraud'], expiresInSeconds: 600, subject: 'admin-1', role: 'admin' }));
  t.after(() => {
    analyst.close();
    adminClient.close();
  });

  await paymentsTopic.send(valid);
  await producer.send(topic, malformed);
  await paymentsTopic.send(canaries.contractBreakers);
  await waitFor('payments processed', async () => engine.stats().processedRecords, (n) => n >= valid.length, 90_000);
  await paymentsTopic.sendWatermarkEvents(valid, 6 * 60_000);
  const expected = referenceCardFeatures(valid);
  await waitFor('features', () => count(ch, `${prefix}card_features`), (n) => n >= expected.length, 120_000);
  await waitFor('predictions', () => count(ch, `${prefix}fraud_predictions`), (n) => n >= expected.length, 60_000);
  await producer.send(topic, late.map((p) => ({ key: p.cardId, value: encode(p) })));
  await waitFor('late records', () => count(ch, `${prefix}late_records`), (n) => n >= 2 * late.length, 60_000);
  await waitFor('dead letters', () => count(ch, `${prefix}dead_letters`), (n) => n >= malformed.length, 60_000);
  await waitFor('quarantined', () => count(ch, `${prefix}quarantine`), (n) => n >= canaries.contractBreakers.length, 60_000);
  await waitFor('frames', async () => Math.min(analyst.data().length, adminClient.data().length), (n) => n >= expected.length, 30_000);

  // GET /state takes the clear key and reads the pseudonymized one.
  const hmacKey = await hmacKeyFrom(redisUrl, keyPrefix);
  const canaryCard = canaries.payments[0]!.cardId;
  const lookup = await fetch(`http://127.0.0.1:${port}/state?key=${encodeURIComponent(`${prefix}features:card-features:v1:${canaryCard}`)}`, { headers: { authorization: `Bearer ${sqlToken}` } });
  assert.equal(lookup.status, 200);
  const answer = (await lookup.json()) as { found: boolean; value: Record<string, unknown> };
  assert.equal(answer.value.cardId, pseudonymOf(hmacKey, canaryCard));

  // Every table an analyst may read, through POST /sql with the analyst token.
  const readable = analystTables(topology as never);
  assert.ok(readable.includes(`${prefix}payments`) && readable.includes(`${prefix}card_features`) && readable.includes(`${prefix}late_records`), readable.join(', '));
  let analystText = '';
  for (const table of readable) {
    const answer = await post(`http://127.0.0.1:${port}/sql?format=JSONEachRow`, `SELECT * FROM ${table}`, { authorization: `Bearer ${sqlToken}` });
    assert.equal(answer.status, 200, `${table}: ${answer.body.slice(0, 300)}`);
    analystText += answer.body;
  }
  assert.ok(analystText.split('\n').length > valid.length, 'the analyst read every row');
  assert.deepEqual(canariesIn(analystText, canaries.texts), [], 'canaries in what the analyst reads through SQL');

  stopped = true;
  await engine.stop();

  // ClickHouse, every table of the run read as the server's admin.
  const stored = await dumpClickHouse(ch, prefix);
  for (const table of ['payments', 'card_features', 'fraud_predictions', 'late_records', 'dead_letters', 'quarantine', 'merchant_stats_per_hour', 'fraud_rate_per_minute']) assert.ok(stored.tables.includes(`${prefix}${table}`), `${table} in ${stored.tables.join(', ')}`);
  assert.ok(stored.rows > valid.length, `${stored.rows} rows read`);
  assert.deepEqual(canariesIn(stored.text, canaries.texts), [], 'canaries in ClickHouse');
  // The contract's quarantine names the rule and the offending field, with its keyed hash.
  const quarantined = await queryRows<{ rule: string; offending: string }>(ch, `SELECT rule, offending FROM ${prefix}quarantine FINAL`);
  assert.deepEqual(quarantined.map((q) => q.rule), canaries.contractBreakers.map(() => 'country-code'));
  for (const q of quarantined) assert.match(q.offending, /^country="h1_[A-Za-z0-9_-]{22}"$/);

  // Redis: every key and value of the database.
  const redis = await dumpRedis(redisUrl);
  assert.ok(redis.text.includes(`tributary:card-fraud:${prefix}features:card-features:v1:h1_`), 'the run wrote pseudonymized state keys');
  assert.ok(redis.text.includes(`${keyPrefix}subject.h1_`), 'and subject keys');
  assert.deepEqual(canariesIn(redis.text, canaries.texts), [], 'canaries in Redis');

  // WebSocket frames, with and without the admin role.
  assert.deepEqual(canariesIn(analyst.frames.join('\n'), canaries.texts), [], 'canaries in analyst frames');
  assert.deepEqual(canariesIn(adminClient.frames.join('\n'), canaries.texts), [], 'canaries in admin frames');
  // The admin may detokenize: the canary cards' frames hold tokens of their ids and amounts.
  const keyStore = await RedisKeyStore.connect(redisUrl, { prefix: keyPrefix, logger: silentLogger });
  t.after(() => keyStore.close());
  const canaryFrames = adminClient.data().filter((m) => canaries.payments.some((p) => m.key === pseudonymOf(hmacKey, p.cardId)));
  assert.ok(canaryFrames.length >= canaries.payments.length, `${canaryFrames.length} admin frames of canary cards`);
  const ids = await detokenizeAll(canaryFrames.map((m) => m.data.cardId as string), keyStore);
  assert.deepEqual(new Set(ids), new Set(canaries.payments.map((p) => p.cardId)));
  assert.ok(analyst.data().every((m) => /^h1_/.test(String(m.data.cardId)) && typeof m.data.sum1m === 'number'));

  // Logs at debug level.
  const logs = readFileSync(logFile, 'utf8');
  assert.match(logs, /"level":20/, 'debug lines were written');
  assert.deepEqual(canariesIn(logs, canaries.texts), [], 'canaries in the logs');

  // The Kafka dead-letter topic: sealed bytes an admin can open.
  const letters = await readTopic(config.kafkaBrokers!, dlqTopic, malformed.length);
  const topicText = letters.map((m) => `${m.key?.toString('latin1')} ${m.value?.toString('latin1')} ${JSON.stringify(m.headers)}`).join('\n');
  assert.deepEqual(canariesIn(topicText, canaries.texts), [], 'canaries on the dead-letter topic');
  const opened = await openDeadLetter({ raw: letters[0]!.value, error: letters[0]!.headers['tributary-error']! }, keyStore);
  assert.ok(malformed.some((m) => m.value.equals(opened.raw!)), 'the admin reads the original bytes back');

  // Window features over pseudonymized keys: exactly the reference's counts, amounts cut to 2
  // significant digits (ClickHouse), and exactly the reference (online state, detokenized).
  const rows = (await queryRows<Record<string, unknown>>(ch, `SELECT * FROM ${prefix}card_features`)).map(toFeatures);
  const byKey = new Map(expected.map((f) => [`${pseudonymOf(hmacKey, f.cardId)}|${f.windowEnd}`, f]));
  assert.equal(rows.length, expected.length);
  for (const row of rows) {
    const reference = byKey.get(`${row.cardId}|${row.windowEnd}`);
    assert.ok(reference, `row ${row.cardId}@${row.windowEnd} matches a reference window`);
    assert.deepEqual([row.windowStart, row.count1m, row.count5m], [reference.windowStart, reference.count1m, reference.count5m]);
    for (const field of ['sum1m', 'max1m', 'sum5m', 'max5m'] as const) assert.ok(isTwoDigitCut(row[field], reference[field]), `${field} ${row[field]} of ${reference[field]}`);
    byKey.delete(`${row.cardId}|${row.windowEnd}`);
  }
  const lastWindow = new Map<string, CardFeatures>();
  for (const f of expected.sort(byCardAndEnd)) lastWindow.set(f.cardId, f);
  const states = await stateValues(redisUrl, `tributary:card-fraud:${prefix}features:card-features:v1:`, [...lastWindow.keys()].map((id) => pseudonymOf(hmacKey, id)));
  const tokens = states.flatMap((s) => [s.cardId, s.sum1m, s.max1m, s.sum5m, s.max5m] as string[]);
  const clear = await detokenizeAll(tokens.filter((v) => String(v).startsWith('tok1.')), keyStore);
  assert.equal(clear.length, 4 * states.length, 'sums and maxima are tokens in online state');
  [...lastWindow.values()].forEach((reference, i) => {
    const state = states[i]!;
    const detokenized = { ...state, cardId: reference.cardId, sum1m: clear[4 * i], max1m: clear[4 * i + 1], sum5m: clear[4 * i + 2], max5m: clear[4 * i + 3] } as unknown as CardFeatures;
    assert.equal(state.cardId, pseudonymOf(hmacKey, reference.cardId));
    assert.deepEqual(inCents(toFeatures(detokenized as unknown as Record<string, unknown>)), inCents(reference));
  });
});

async function count(ch: ReturnType<typeof createClient>, table: string): Promise<number> {
  const [row] = await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${table}`);
  return Number(row!.n);
}

/** The values online state holds under `prefix` + each pseudonym, read from Redis directly. */
async function stateValues(redisUrl: string, prefix: string, pseudonyms: string[]): Promise<Array<Record<string, unknown>>> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl);
  try {
    const texts = await redis.mget(pseudonyms.map((p) => prefix + p));
    return texts.map((text, i) => {
      assert.ok(text, `state of ${pseudonyms[i]}`);
      return (JSON.parse(text) as { value: Record<string, unknown> }).value;
    });
  } finally {
    redis.disconnect();
  }
}
