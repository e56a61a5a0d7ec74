import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ClickHouseClient } from '@clickhouse/client';
import { Engine } from '../../src/runtime/engine.ts';
import { CardPaymentModel } from '../../src/sources/generator/card-payments.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures } from '../helpers/fraud-reference.ts';
import { waitForCardFraudResults } from '../helpers/fault-run.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { clickhouse, engineConfig, queryRows, REPO_ROOT, uniqueName } from '../helpers/services.ts';

const PARTITIONS = 3;
const EVENTS = 6_000;
const START = Date.UTC(2026, 2, 2, 8, 0, 0);

/**
 * Issue 5 item 3: the same events through the online path (Kafka, in-process engine) and through
 * `tributary backfill` (read back from ClickHouse, a separate process) give the same feature and
 * prediction rows, column for column, and both equal the independent reference.
 */
test('backfill of card-fraud from ClickHouse equals the online output exactly', { timeout: 300_000 }, async (t) => {
  const prefix = `${uniqueName('bf')}_`;
  // In-memory online state: the shared Redis holds other tests' keys for the same generator cards.
  const config = engineConfig({ redisUrl: undefined });
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS });
  const ch = clickhouse();
  let engine: Engine | null = null;
  t.after(async () => {
    await engine?.stop().catch(() => {});
    await paymentsTopic.close();
    // Views before the materialized views and tables they read.
    const tables = await queryRows<{ name: string; engine: string }>(ch, `SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND startsWith(name, '${prefix}')`).catch(() => []);
    const rank = (engine: string) => (engine === 'View' ? 0 : engine === 'MaterializedView' ? 1 : 2);
    for (const { name } of tables.sort((a, b) => rank(a.engine) - rank(b.engine))) await ch.command({ query: `DROP TABLE IF EXISTS \`${name}\`` }).catch(() => {});
    await ch.close();
  });

  // 6,000 payments of 300 cards over 15 minutes of event time, out of order by the model's
  // jitter (well within the 5 s out-of-orderness), none late.
  const generator = new CardPaymentModel({ seed: 23, cards: 300, lateShare: 0, fraudRate: 0.01 });
  const payments = Array.from({ length: EVENTS }, (_, i) => generator.next(START + i * 150).payment);
  const times = payments.map((p) => p.ts);
  const minTs = Math.min(...times);
  const maxTs = Math.max(...times);
  assert.ok(payments.some((p, i) => i > 0 && p.ts < payments[i - 1]!.ts), 'the events are out of order');
  const expected = referenceCardFeatures(payments);
  assert.ok(expected.length > 1_000, `${expected.length} reference windows`);

  // Online: Kafka → the card-fraud topology → ClickHouse; one event per partition ten minutes
  // after the last closes every window (the backfill range below leaves those out).
  const logger = process.env.TEST_LOG ? createLogger('online') : silentLogger;
  engine = await Engine.start(createCardFraudTopology({ topic: paymentsTopic.topic, tablePrefix: prefix, channel: 'fraud' }), { config, logger, push: false });
  await paymentsTopic.send(payments);
  await paymentsTopic.sendWatermarkEvents(payments);
  const onlineSeconds = await waitForCardFraudResults(ch, prefix, payments, PARTITIONS, 180_000, () => JSON.stringify(engine?.stats()));
  await engine.stop();
  engine = null;
  const count = async (sql: string) => Number((await queryRows<{ n: string }>(ch, sql))[0]!.n);
  const rawRows = await count(`SELECT count() AS n FROM ${prefix}payments`);
  assert.equal(await count(`SELECT count() AS n FROM ${prefix}payments FINAL`), EVENTS + PARTITIONS);
  assert.equal(await count(`SELECT count() AS n FROM ${prefix}late_records`), 0, 'no late records online');

  // The backfill, as the CLI runs it, over exactly the payments' event times (--to is exclusive).
  const from = new Date(minTs).toISOString();
  const backfill = await runBackfill(['--from', from, '--to', String(maxTs + 1), '--batch-size', '2000'], {
    FRAUD_TEST_TOPIC: paymentsTopic.topic,
    FRAUD_TEST_PREFIX: prefix,
    KAFKA_BROKERS: config.kafkaBrokers!.join(','),
    CLICKHOUSE_URL: config.clickhouseUrl!,
    LOG_LEVEL: 'warn',
  });
  assert.equal(backfill.code, 0, backfill.output);
  const summary = /done: (\d+) events in ([\d.]+) s \((\d+) events\/s\)/.exec(backfill.output);
  assert.ok(summary, backfill.output);
  assert.equal(Number(summary[1]), EVENTS, 'every payment read back once');
  assert.match(backfill.output, new RegExp(`features: ${expected.length} rows`));
  assert.match(backfill.output, new RegExp(`predictions: ${expected.length} rows`));
  assert.match(backfill.output, /backfill: 6000 events to replay/, 'progress lines on a non-terminal stderr');
  t.diagnostic(`online ${onlineSeconds.toFixed(1)} s to all results; backfill ${summary[2]} s, ${summary[3]} events/s (${backfill.wallSeconds.toFixed(1)} s with process start)`);

  // Features: the backfill's rows equal the online rows column for column, and the reference.
  const features = await byOrigin(ch, `${prefix}card_features`);
  assert.equal(features.backfill.length, expected.length, 'one backfilled row per reference window');
  assert.equal(features.online.length, expected.length);
  assert.deepEqual(features.backfill, features.online);
  assert.deepEqual(features.online.map(toFeatures).sort(byCardAndEnd).map(inCents), expected.map(inCents));

  // Predictions: the same count, probabilities, model and lineage.
  const predictions = await byOrigin(ch, `${prefix}fraud_predictions`);
  assert.equal(predictions.backfill.length, expected.length);
  assert.equal(predictions.online.length, expected.length);
  assert.deepEqual(predictions.backfill, predictions.online);
  assert.ok(predictions.online.every((p) => p.source === 'model' && /^fraud-lr@/.test(String(p.model))), 'scored by the model both times');
  assert.deepEqual(predictions.online.map((p) => [p.cardId, Number(p.windowEnd)]), expected.map((f) => [f.cardId, f.windowEnd]));

  // The raw events, late records and dead letters are as the online run left them.
  assert.equal(await count(`SELECT count() AS n FROM ${prefix}payments`), rawRows, 'the backfill wrote no raw rows');
  assert.equal(await count(`SELECT count() AS n FROM ${prefix}late_records`), 0);
  assert.equal(await count(`SELECT count() AS n FROM ${prefix}dead_letters`), 0);
  assert.deepEqual(await queryRows(ch, `SELECT DISTINCT origin FROM ${prefix}card_features ORDER BY origin`), [{ origin: 'backfill' }, { origin: 'online' }]);

  // Warm-up: backfills from the middle of the range (half-way through a minute), reading the same
  // payments table into tables of their own. With the default warm-up (the feature set's 5
  // minutes) every window that ends after --from equals the online row; without one, the
  // windows that cross --from miss their earlier events.
  const midFrom = START + 7 * 60_000 + 30_000;
  const after = (rows: Array<Record<string, unknown>>) => rows.filter((row) => Number(row.windowEnd) > midFrom);
  const crossing = (row: Record<string, unknown>) => Number(row.windowStart) < midFrom;
  const midRange = async (tablePrefix: string, extra: string[]) => {
    const run = await runBackfill(['--from', String(midFrom), '--to', String(maxTs + 1), '--table', `${prefix}payments`, '--schema', 'payment.avsc', '--time-column', 'ts', ...extra], {
      FRAUD_TEST_TOPIC: paymentsTopic.topic,
      FRAUD_TEST_PREFIX: tablePrefix,
      CLICKHOUSE_URL: config.clickhouseUrl!,
      LOG_LEVEL: 'warn',
    });
    assert.equal(run.code, 0, run.output);
    return { output: run.output, features: (await byOrigin(ch, `${tablePrefix}card_features`)).backfill, predictions: (await byOrigin(ch, `${tablePrefix}fraud_predictions`)).backfill };
  };
  const warm = await midRange(`${prefix}warm_`, []);
  const expectedAfter = after(features.online);
  assert.ok(expectedAfter.filter(crossing).length > 500, `${expectedAfter.filter(crossing).length} windows cross --from`);
  assert.match(warm.output, new RegExp(`Warm-up: read from ${new Date(midFrom - 300_000).toISOString()}; rows of windows ending by --from, not written: features \\d+, predictions \\d+`));
  assert.match(warm.output, new RegExp(`features: ${expectedAfter.length} rows`));
  assert.deepEqual(warm.features, expectedAfter, 'every window ending after --from, complete');
  assert.deepEqual(warm.predictions, after(predictions.online));

  const cold = await midRange(`${prefix}cold_`, ['--warmup', '0']);
  assert.doesNotMatch(cold.output, /Warm-up/);
  assert.deepEqual(cold.features.filter((row) => !crossing(row)), expectedAfter.filter((row) => !crossing(row)), 'windows from --from on are complete anyway');
  const coldByWindow = new Map(cold.features.map((row) => [`${row.cardId}/${row.windowEnd}`, row]));
  // A crossing window is missing (its card had no payment after --from in it) or counts fewer payments.
  const partial = expectedAfter.filter(crossing).filter((row) => Number(coldByWindow.get(`${row.cardId}/${row.windowEnd}`)?.count5m ?? 0) < Number(row.count5m));
  assert.ok(partial.length > 500, `${partial.length} windows crossing --from miss events without a warm-up`);
  t.diagnostic(`warm-up: ${expectedAfter.filter(crossing).length} windows cross --from; without a warm-up ${partial.length} of them are partial`);

  // From a minute boundary: the windows that end exactly at --from (their rows' event time is
  // end - 1 ms) belong before it and are not written; every window ending after it is, complete.
  const boundary = START + 8 * 60_000;
  assert.equal(boundary % 60_000, 0, 'a minute boundary');
  const onBoundary = await runBackfill(['--from', String(boundary), '--to', String(maxTs + 1), '--table', `${prefix}payments`, '--schema', 'payment.avsc', '--time-column', 'ts'], {
    FRAUD_TEST_TOPIC: paymentsTopic.topic,
    FRAUD_TEST_PREFIX: `${prefix}edge_`,
    CLICKHOUSE_URL: config.clickhouseUrl!,
    LOG_LEVEL: 'warn',
  });
  assert.equal(onBoundary.code, 0, onBoundary.output);
  const edge = (await byOrigin(ch, `${prefix}edge_card_features`)).backfill;
  const expectedFromBoundary = features.online.filter((row) => Number(row.windowEnd) > boundary);
  assert.ok(features.online.some((row) => Number(row.windowEnd) === boundary), 'online has windows ending at the boundary');
  assert.equal(edge.filter((row) => Number(row.windowEnd) <= boundary).length, 0, 'no window ending at or before --from');
  assert.deepEqual(edge, expectedFromBoundary, 'every window ending after a minute-aligned --from, complete');
});

/** The stored rows of each origin (FINAL, by card and window), every column but origin, as ClickHouse returns them. */
async function byOrigin(ch: ClickHouseClient, table: string): Promise<{ online: Array<Record<string, unknown>>; backfill: Array<Record<string, unknown>> }> {
  const columns = (await queryRows<{ name: string }>(ch, `SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '${table}' AND default_kind != 'ALIAS' AND name != 'origin'`)).map((c) => c.name);
  assert.ok(columns.includes('probability') || columns.includes('count5m'), `columns of ${table}: ${columns.join(', ')}`);
  const read = (origin: string) => queryRows<Record<string, unknown>>(ch, `SELECT ${columns.map((c) => `\`${c}\``).join(', ')} FROM ${table} FINAL WHERE origin = '${origin}' ORDER BY cardId, windowEnd`);
  return { online: await read('online'), backfill: await read('backfill') };
}

/** `tributary backfill test/fixtures/card-fraud-from-env.ts ...` as a child process. */
function runBackfill(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string; wallSeconds: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'backfill', 'test/fixtures/card-fraud-from-env.ts', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, wallSeconds: (performance.now() - started) / 1000 });
    }),
  );
}
