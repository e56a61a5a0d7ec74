import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Engine } from '../../src/runtime/engine.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { signPushToken } from '../../src/push/push-token.ts';
import { RedisKeyStore } from '../../src/governance/redis-key-store.ts';
import { detokenize } from '../../src/governance/detokenize.ts';
import type { TributaryError } from '../../src/core/errors.ts';
import { CARD_FRAUD_GOVERNANCE, createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, REPO_ROOT, requireService, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { hmacKeyFrom, pseudonymOf, rawSubscriber } from '../helpers/canaries.ts';

const run = promisify(execFile);
const START = Date.UTC(2026, 10, 4, 9, 0, 0);
const TOKEN = /tok1\.(h1_[A-Za-z0-9_-]{22})\.[A-Za-z0-9_-]+/g;

test('tributary erase: the chosen cards\' tokens no longer detokenize anywhere, their Redis state is gone, the others are untouched, one audit entry per erasure', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('erase')}_`;
  const keyPrefix = `${uniqueName('tkeys')}:`;
  const secret = randomBytes(24).toString('hex');
  const redisUrl = requireService('REDIS_URL');
  const config = engineConfig({ governance: { keyStore: { kind: 'redis', prefix: keyPrefix } }, websocket: { auth: { secret } } });
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 2 });
  const { topic, producer, encode } = paymentsTopic;
  const ch = clickhouse();
  const redis = new Redis(redisUrl);
  const keyStore = await RedisKeyStore.connect(redisUrl, { prefix: keyPrefix, logger: silentLogger });
  const dir = mkdtempSync(path.join(tmpdir(), 'erase-'));
  t.after(async () => {
    await paymentsTopic.close();
    await ch.close();
    redis.disconnect();
    await keyStore.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // 30 cards, 6 minutes of payments; then one far-late payment per card (late records hold its amount as a token).
  const generator = new CardPaymentModel({ seed: 23, cards: 30, lateShare: 0 });
  const payments = Array.from({ length: 1_800 }, (_, i) => generator.next(START + i * 200).payment);
  const cards = [...new Set(payments.map((p) => p.cardId))].sort();
  assert.equal(cards.length, 30);
  const maxTs = Math.max(...payments.map((p) => p.ts));
  const late = cards.map((cardId, i): Payment => ({ ...payments.find((p) => p.cardId === cardId)!, paymentId: `late-${i}`, ts: maxTs - 10 * 60_000 }));

  const engine = await Engine.start(createCardFraudTopology({ topic, tablePrefix: prefix, statePrefix: prefix, channel: 'fraud', governance: CARD_FRAUD_GOVERNANCE }), { config, logger: silentLogger, push: true });
  let stopped = false;
  t.after(async () => {
    if (!stopped) await engine.stop();
  });
  const admin = await rawSubscriber(engine.environment.pushServer!.port, 'fraud', await signPushToken(secret, { channels: ['fraud'], expiresInSeconds: 600, role: 'admin' }));
  t.after(() => admin.close());
  await paymentsTopic.send(payments);
  await waitFor('payments processed', async () => engine.stats().processedRecords, (n) => n >= payments.length, 90_000);
  await paymentsTopic.sendWatermarkEvents(payments, 6 * 60_000);
  const windows = referenceCardFeatures(payments).length;
  await waitFor('predictions', () => count(ch, `${prefix}fraud_predictions`), (n) => n >= windows, 120_000);
  await producer.send(topic, late.map((p) => ({ key: p.cardId, value: encode(p) })));
  await waitFor('late records', () => count(ch, `${prefix}late_records`), (n) => n >= 2 * late.length, 60_000);
  await waitFor('admin frames', async () => admin.data().length, (n) => n >= windows, 30_000);
  stopped = true;
  await engine.stop();

  // Every token the run stored or sent: late records in ClickHouse, admin frames, online state.
  const hmacKey = await hmacKeyFrom(redisUrl, keyPrefix);
  const subjectOf = new Map(cards.map((card) => [pseudonymOf(hmacKey, card), card]));
  const stateKeys = (card: string) => ['features:card-features:v1:', 'prediction:card:'].map((p) => `tributary:card-fraud:${prefix}${p}${pseudonymOf(hmacKey, card)}`);
  const lateText = (await queryRows<{ payload: string }>(ch, `SELECT payload FROM ${prefix}late_records`)).map((r) => r.payload).join('\n');
  const stateText = (await redis.mget(cards.flatMap(stateKeys))).join('\n');
  const tokensByCard = new Map<string, string[]>();
  for (const text of [lateText, admin.frames.join('\n'), stateText]) {
    for (const match of text.matchAll(TOKEN)) {
      const card = subjectOf.get(match[1]!);
      assert.ok(card, `a token of a known card: ${match[1]}`);
      tokensByCard.set(card, [...(tokensByCard.get(card) ?? []), match[0]]);
    }
  }
  assert.deepEqual([...tokensByCard.keys()].sort(), cards, 'every card has tokens');
  const before = new Map<string, unknown[]>();
  for (const [card, tokens] of tokensByCard) before.set(card, await Promise.all(tokens.map((token) => detokenize(token, keyStore))));
  assert.ok([...before.values()].flat().includes(late[0]!.amount), 'late amounts detokenize');

  // Erase 10 cards through the CLI, in two calls, with the audit log in a file of this test.
  const chosen = cards.filter((_, i) => i % 3 === 0);
  assert.equal(chosen.length, 10);
  const auditFile = path.join(dir, 'audit.jsonl');
  const env = { ...process.env, TRIBUTARY_KEY_STORE_PREFIX: keyPrefix, FRAUD_TEST_TOPIC: topic, FRAUD_TEST_PREFIX: prefix, TRIBUTARY_AUDIT_LOG: auditFile, TRIBUTARY_AUDIT_TABLE: 'off' };
  const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO_ROOT, env, timeout: 120_000 });
  const erase = (ids: string[]) => cli('erase', '--topology', 'test/fixtures/card-fraud-governed.ts', '--subject', ...ids);
  const first = await erase(chosen.slice(0, 7));
  const second = await erase(chosen.slice(7));
  const erased = chosen;
  for (const [output, ids] of [[first.stdout, chosen.slice(0, 7)], [second.stdout, chosen.slice(7)]] as const) {
    for (const id of ids) {
      const subject = pseudonymOf(hmacKey, id);
      const keys = stateKeys(id).map((k) => k.replace('tributary:card-fraud:', ''));
      assert.ok(output.includes(`erased ${id} (subject ${subject}): data key destroyed; online state deleted: ${keys.join(', ')}\n`), output);
    }
    assert.ok(output.includes(`key store: Redis keys ${keyPrefix}*; state: Redis tributary:card-fraud:*`), output);
    assert.ok(output.includes(`${ids.length} erasure(s) recorded in the audit trail`), output);
  }

  // Erased: no token of theirs opens, wherever it was stored; their state keys are gone.
  for (const card of erased) {
    for (const token of tokensByCard.get(card)!) await assert.rejects(detokenize(token, keyStore), (error: TributaryError) => error.code === 'GOVERNANCE_ERASED', card);
    assert.deepEqual(await redis.exists(...stateKeys(card)), 0, `state of ${card}`);
  }
  // The others: every token reads as before, their state is there.
  for (const card of cards.filter((c) => !erased.includes(c))) {
    assert.deepEqual(await Promise.all(tokensByCard.get(card)!.map((token) => detokenize(token, keyStore))), before.get(card), card);
    assert.equal(await redis.exists(...stateKeys(card)), 2, `state of ${card}`);
  }
  // One audit entry per erasure, naming the subject by its keyed hash only, in a chain that verifies.
  const trail = readFileSync(auditFile, 'utf8');
  const entries = trail.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => e.action === 'governance.erase');
  assert.deepEqual(entries.map((e) => e.target), chosen.map((card) => `subject ${pseudonymOf(hmacKey, card)}`));
  for (const entry of entries) {
    assert.equal(entry.outcome, 'ok');
    assert.match(String(entry.principal), /^cli:/);
    assert.deepEqual(entry.details, { topology: 'card-fraud', keyStore: `Redis keys ${keyPrefix}*`, keyDestroyed: true, stateKeysDeleted: 2 });
  }
  assert.deepEqual(cards.filter((card) => trail.includes(card)), [], 'no clear card id in the audit trail');
  assert.match((await cli('audit', 'verify', '--file', auditFile)).stdout, /\b(ok|verified|intact)\b/i);
});

async function count(ch: ReturnType<typeof clickhouse>, table: string): Promise<number> {
  const [row] = await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${table}`);
  return Number(row!.n);
}
