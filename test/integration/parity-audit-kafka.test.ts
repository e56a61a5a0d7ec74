import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { Engine } from '../../src/runtime/engine.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { clickhouse, engineConfig, queryRows, REPO_ROOT, requireService, uniqueName, waitFor } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';

const MINUTE = 60_000;
const START = Date.UTC(2026, 7, 3, 14, 0);
const END = START + 6 * MINUTE;
const RATE = 40;
/** Every window of the data: the last payments' 5-minute windows end by END + 5 minutes. */
const TO = END + 5 * MINUTE;

interface Difference { store: string; key: string; window: number; column: string; stored: unknown; recomputed: unknown }
interface Report { recomputed: number; stored: number; keys: number; redis: { compared: number; missing: number; newer: number }; differences: Difference[] }

/** `tributary audit parity` as a job runs it: its exit code, stdout and stderr. */
function audit(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'audit', 'parity', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('parity audit on real Kafka, ClickHouse and Redis: nothing on an untouched run; then exactly the 3 corrupted feature rows and 2 corrupted Redis keys, with both values; exit codes 0, 1, 2', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('t')}_`;
  const statePrefix = `${prefix}:`;
  const config = engineConfig();
  const ch = clickhouse();
  const redis = new Redis(requireService('REDIS_URL'));
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 3 });
  // No late payments: a payment the online engine dropped as late would be in the replay's windows, a true difference.
  const generator = new CardPaymentModel({ seed: 41, lateShare: 0 });
  const payments: Payment[] = Array.from({ length: ((END - START) / 1000) * RATE }, (_, i) => generator.next(START + (i * 1000) / RATE).payment);
  const engine = await Engine.start(createCardFraudTopology({ topic: paymentsTopic.topic, tablePrefix: prefix, statePrefix }), { config, push: false, logger: process.env.TEST_LOG ? createLogger('test') : silentLogger });
  t.after(async () => {
    await engine.stop();
    await paymentsTopic.close();
    const keys = await redis.keys(`tributary:card-fraud:${statePrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await ch.close();
  });
  await paymentsTopic.send(payments);
  await paymentsTopic.sendWatermarkEvents(payments, 10 * MINUTE);
  const windows = referenceCardFeatures(payments);
  const cards = new Set(windows.map((w) => w.cardId));
  const featureRows = () => queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}card_features FINAL WHERE cardId NOT LIKE 'watermark%'`).then((rows) => Number(rows[0]!.n));
  await waitFor(`${windows.length} feature rows`, featureRows, (n) => n >= windows.length, 120_000);
  // The online state is written shortly after: every card's latest window.
  const stateKey = (card: string) => `tributary:card-fraud:${statePrefix}features:card-features:v1:${card}`;
  const latestEnd = new Map<string, number>();
  for (const w of windows) latestEnd.set(w.cardId, Math.max(latestEnd.get(w.cardId) ?? 0, w.windowEnd));
  const inRedis = async () => {
    let current = 0;
    for (const card of cards) if ((JSON.parse((await redis.get(stateKey(card))) ?? 'null') as { value: { windowEnd: number } } | null)?.value.windowEnd === latestEnd.get(card)) current++;
    return current;
  };
  await waitFor('every card\'s latest window in Redis', inRedis, (n) => n === cards.size, 60_000);

  const env = { ...process.env, FRAUD_TEST_TOPIC: paymentsTopic.topic, FRAUD_TEST_PREFIX: prefix, FRAUD_TEST_STATE_PREFIX: statePrefix, LOG_LEVEL: 'warn' };
  const range = ['test/fixtures/card-fraud-from-env.ts', '--from', String(START), '--to', String(TO)];

  // 1. Untouched: no difference, exit 0, every window and key compared.
  const clean = await audit(env, ...range, '--format', 'json');
  assert.equal(clean.code, 0, clean.stderr);
  const cleanReport = JSON.parse(clean.stdout) as Report;
  assert.deepEqual(cleanReport.differences, []);
  // Windows ending in (START, TO]: not the one ending at START (payments jittered just before it).
  const inRange = windows.filter((w) => w.windowEnd > START && w.windowEnd <= TO);
  assert.deepEqual([cleanReport.recomputed, cleanReport.stored, cleanReport.keys], [inRange.length, inRange.length, new Set(inRange.map((w) => w.cardId)).size]);
  assert.ok(inRange.length > 20_000);
  assert.deepEqual(cleanReport.redis, { compared: cards.size, missing: 0, newer: 0, prefix: `tributary:card-fraud:${statePrefix}features:card-features:v1:` });

  // 2. Corrupt three feature rows in ClickHouse (a higher revision replaces them) and two keys in Redis.
  const sorted = [...windows].sort((a, b) => a.windowEnd - b.windowEnd || (a.cardId < b.cardId ? -1 : 1));
  const targets = [sorted[100]!, sorted[Math.floor(sorted.length / 2)]!, sorted[sorted.length - 200]!];
  const columns = ['count5m', 'sum1m', 'max5m'] as const;
  const expected: Difference[] = [];
  for (const [i, w] of targets.entries()) {
    const [row] = await queryRows<Record<string, unknown>>(ch, `SELECT * FROM ${prefix}card_features FINAL WHERE cardId = '${w.cardId}' AND windowEnd = ${w.windowEnd} AND origin = 'online'`);
    const column = columns[i]!;
    const original = Number(row![column]);
    const corrupted = column === 'count5m' ? original + 3 : original + 12.5;
    await ch.insert({ table: `${prefix}card_features`, values: [{ ...row, [column]: corrupted, revision: Number(row!.revision) + 1 }], format: 'JSONEachRow' });
    expected.push({ store: 'clickhouse', key: w.cardId, window: w.windowEnd, column, stored: corrupted, recomputed: original });
  }
  const redisTargets = [...cards].sort().slice(0, 2);
  for (const [i, card] of redisTargets.entries()) {
    const held = JSON.parse((await redis.get(stateKey(card)))!) as { value: Record<string, number> };
    const column = i === 0 ? 'count1m' : 'sum5m';
    const original = held.value[column]!;
    held.value[column] = original + 7;
    await redis.set(stateKey(card), JSON.stringify(held), 'PX', 3_600_000);
    expected.push({ store: 'redis', key: card, window: latestEnd.get(card)!, column, stored: original + 7, recomputed: original });
  }

  // 3. Exactly those five, with both values; exit 1. The text report says the same, one line each.
  const dirty = await audit(env, ...range, '--format', 'json');
  assert.equal(dirty.code, 1, dirty.stderr);
  const report = JSON.parse(dirty.stdout) as Report;
  const byKey = (d: Difference) => `${d.store}|${d.key}|${d.window}|${d.column}`;
  assert.deepEqual(report.differences.map(byKey).sort(), expected.map(byKey).sort());
  for (const d of report.differences) {
    const e = expected.find((x) => byKey(x) === byKey(d))!;
    assert.ok(Math.abs(Number(d.stored) - Number(e.stored)) < 1e-9 && Math.abs(Number(d.recomputed) - Number(e.recomputed)) < 1e-9, `${byKey(d)}: ${JSON.stringify(d)} vs ${JSON.stringify(e)}`);
  }
  const text = await audit(env, ...range);
  assert.equal(text.code, 1);
  const lines = text.stdout.trim().split('\n');
  assert.equal(lines.length, 6, text.stdout);
  for (const d of expected) assert.ok(lines.some((line) => line.startsWith(`${d.store}\t${d.key}\t${new Date(d.window).toISOString()}\t${d.column}\tstored=`)), `a line for ${byKey(d)}`);
  assert.match(lines[5]!, /5 differences \(3 in ClickHouse, 2 in Redis\)/);
  console.log(`[parity] ${lines.join('\n  ')}`);

  // 4. An audit that cannot run exits 2: a range backwards, a missing option, a topology without a lifecycle.
  assert.equal((await audit(env, 'test/fixtures/card-fraud-from-env.ts', '--from', String(TO), '--to', String(START))).code, 2);
  assert.equal((await audit(env, 'test/fixtures/card-fraud-from-env.ts', '--from', String(START))).code, 2);
  const noLifecycle = await audit(env, 'topologies/payment-authorizations.ts', '--from', String(START), '--to', String(TO));
  assert.equal(noLifecycle.code, 2);
  assert.match(noLifecycle.stderr, /declares no lifecycle/);
});
