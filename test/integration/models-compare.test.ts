import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import { ConfigError } from '../../src/core/errors.ts';
import { compareModels, compareOptionsFor, compareSql, type ModelComparison } from '../../src/registry/compare-report.ts';
import { logLoss, rocAuc } from '../../src/scoring/classification-metrics.ts';
import { SeededRandom } from '../../src/sources/generator/random.ts';
import type { Chargeback } from '../../src/sources/generator/chargebacks.ts';
import { clickhouseTable } from '../../src/sinks/clickhouse/table-sink.ts';
import { createChargebacksTopology } from '../../topologies/chargebacks.ts';
import { cardFraudLifecycle as cardLifecycle } from '../../topologies/card-fraud.ts';
import { clickhouseTargets, type ClickHouseTarget } from '../helpers/clickhouse-targets.ts';
import { REPO_ROOT } from '../helpers/services.ts';
import { writeThroughSink } from '../helpers/sink-writes.ts';

const run = promisify(execFile);
const LIVE = 'fraud-lr@aaaaaaaaaaaa';
const CANDIDATE = 'fraud-lr@cccccccccccc';
const T0 = Date.UTC(2026, 2, 1);
const MINUTE = 60_000;

/** A prediction row as the card-fraud topology writes it (schemas/fraud_prediction.avsc). */
interface Prediction {
  cardId: string; windowEnd: number; probability: number; model: string; source: string; modelVersion: string; featureVersion: string;
  challengerModel: string; challengerProbability: number | null; revision: number;
  count1m: number; sum1m: number; max1m: number; count5m: number; sum5m: number; max5m: number;
}

/**
 * Known rows: 60 shadow rows (live served, candidate alongside), 20 canary rows (candidate
 * served, live alongside), and rows the report must leave out (no challenger, the prior, another
 * model, an old revision, backfilled copies). Probabilities are sixteenths (0 and 1 included, so log loss clips):
 * sums of them are exact in any order, so means, differences and agreement can be asserted
 * exactly; AUC is exact by construction (counts and halves).
 */
function predictions(): { rows: Prediction[]; written: Prediction[]; backfilled: Prediction[] } {
  const random = new SeededRandom(99);
  const sixteenth = () => random.int(17) / 16;
  const rows: Prediction[] = [];
  const row = (i: number, model: string, probability: number, challengerModel: string, challengerProbability: number | null, overrides: Partial<Prediction> = {}): Prediction => ({
    cardId: `card-${String(i % 25).padStart(3, '0')}`, windowEnd: T0 + (Math.floor(i / 25) + 1) * MINUTE, probability, model, source: 'model', modelVersion: model.split('@')[1] ?? '',
    featureVersion: 'v1', challengerModel, challengerProbability, revision: 0, count1m: 1, sum1m: 2, max1m: 2, count5m: 1, sum5m: 2, max5m: 2, ...overrides,
  });
  for (let i = 0; i < 60; i++) rows.push(row(i, LIVE, sixteenth(), CANDIDATE, sixteenth()));
  for (let i = 60; i < 80; i++) rows.push(row(i, CANDIDATE, sixteenth(), LIVE, sixteenth()));
  rows.push(row(80, LIVE, 0.5, '', null), row(81, 'prior', 0.0066, '', null, { source: 'fallback' }), row(82, 'other-lr@bbbbbbbbbbbb', 0.25, 'other-lr@dddddddddddd', 0.75));
  // Row 0 was revised: its first revision, written after the final one, is replaced (FINAL).
  const stale = { ...rows[0]!, probability: 0.9375, challengerProbability: 0.0625 };
  rows[0] = { ...rows[0]!, revision: 1 };
  // A backfill re-scored the canary rows with a challenger too: they sit next to the online rows
  // (origin 'backfill') and must not be counted a second time.
  const backfilled = rows.slice(60, 80).map((p) => ({ ...p, probability: 1 - p.probability, revision: 3 }));
  return { rows, written: [...rows, stale], backfilled };
}

/** Chargebacks around the rows' windows: inside [end - 1m, end), at its edges, and outside. */
function chargebacks(rows: Prediction[]): Chargeback[] {
  const random = new SeededRandom(7);
  const offsets = [-30_000, -MINUTE, 0, -MINUTE - 1, -1];
  return rows.slice(0, 80).filter(() => random.next() < 0.35).map((p, i) => {
    const paymentTs = p.windowEnd + offsets[i % offsets.length]!;
    return { chargebackId: `cb-${i}`, paymentId: `p-${i}`, cardId: p.cardId, paymentTs, reportedAt: paymentTs + 3 * 86_400_000, reason: 'fraud-card-not-present' };
  });
}

for (const target of clickhouseTargets()) describe(target.label, () => compareSuite(target));

function compareSuite(target: ClickHouseTarget): void {
  const prefix = `cmp_${randomBytes(5).toString('hex')}_`;
  const spec = cardLifecycle(prefix);
  const { rows, written, backfilled } = predictions();
  const labels = chargebacks(rows);
  let client: ClickHouseClient;

  before(async () => {
    client = await target.connect();
    // The predictions table exactly as topologies/card-fraud.ts declares it.
    const predictionsSink = clickhouseTable<Prediction>(spec.predictionsTable, { schema: 'fraud_prediction.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', versionColumn: 'revision', origin: true });
    await writeThroughSink(predictionsSink, client, written, (p) => p.windowEnd);
    await writeThroughSink(predictionsSink, client, backfilled, (p) => p.windowEnd, 'backfill');
    await writeThroughSink(createChargebacksTopology({ tablePrefix: prefix }).sinks.raw![0]!, client, labels, (c) => c.reportedAt);
  });

  after(async () => {
    if (client) {
      for (const table of [spec.predictionsTable, spec.labels.table, `${prefix}dead_letters`]) await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
      await client.close();
    }
    await target.cleanup?.();
  });

  test('live vs candidate on the same rows: counts, means, differences, agreement, AUC and log loss per served/challenger pair', async () => {
    const report = await compareModels(client, compareOptionsFor(spec));
    const compared = rows.filter((p) => p.challengerModel !== '' && p.model.startsWith('fraud-lr@'));
    assert.equal(compared.length, 80);
    const expected = [expectedPair(compared, labels, LIVE, CANDIDATE), expectedPair(compared, labels, CANDIDATE, LIVE)];
    assert.deepEqual(report.map(withoutLogLoss), expected.map(withoutLogLoss));
    // Log loss sums logarithms: ClickHouse adds them per distinct score, classification-metrics
    // per row, so the last bits may differ; within 1e-14 relative is the same number.
    report.forEach((pair, i) => {
      for (const key of ['servedLogLoss', 'challengerLogLoss'] as const) {
        assert.ok(Math.abs(pair[key]! - expected[i]![key]!) <= 1e-14 * expected[i]![key]!, `${pair.served} ${key}: ${pair[key]} vs ${expected[i]![key]}`);
      }
    });
    assert.ok(expected.every((pair) => pair.positives! > 0 && pair.positives! < pair.rows), 'both classes among the compared rows');
  });

  test('a time range selects rows by window end; without labels the report has no label columns', async () => {
    const from = T0 + 2 * MINUTE;
    const to = T0 + 3 * MINUTE;
    const inRange = rows.filter((p) => p.challengerModel !== '' && p.model.startsWith('fraud-lr@') && p.windowEnd >= from && p.windowEnd < to);
    const report = await compareModels(client, { ...compareOptionsFor(spec, { from, to }), labels: undefined });
    assert.deepEqual(report, [withoutLabels(expectedPair(inRange, labels, LIVE, CANDIDATE))]);
    assert.equal(inRange.length, 25);
  });

  test('a missing table fails with its name', async () => {
    await assert.rejects(compareModels(client, { ...compareOptionsFor(spec), predictionsTable: `${prefix}nowhere` }), (error: unknown) => error instanceof ConfigError && error.message.includes(`${prefix}nowhere`));
    await assert.rejects(compareModels(client, { ...compareOptionsFor(spec), labels: { ...spec.labels, table: `${prefix}no_labels` } }), (error: unknown) => error instanceof ConfigError && error.message.includes(`${prefix}no_labels`));
  });

  if (target.label.includes('CLICKHOUSE_URL')) {
    test('tributary models compare prints the same report (json and table) and its SQL', async () => {
      const env = { ...process.env, LIFECYCLE_TEST_PREFIX: prefix, LOG_LEVEL: 'warn' };
      const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'models', 'compare', 'test/fixtures/lifecycle-topology.ts', ...args], { cwd: REPO_ROOT, env });
      const json = JSON.parse((await cli('--format', 'json')).stdout) as { comparison: Array<Record<string, unknown>>; outcomes: Array<Record<string, unknown>> };
      const report = await compareModels(client, compareOptionsFor(spec));
      assert.deepEqual(json.comparison, report);
      // Then each compared version's outcome metrics per day (test/integration/model-outcomes.test.ts checks their values).
      assert.deepEqual(json.outcomes.map((o) => [o.version, o.day, o.rows]), [[LIVE.slice(9), '2026-03-01', 61], [CANDIDATE.slice(9), '2026-03-01', 20]]);
      const table = (await cli()).stdout.split('\n');
      assert.match(table[0]!, /^served\s+challenger\s+rows\s+servedMean\s+challengerMean\s+meanAbsDiff\s+agreement\s+positives\s+servedAuc\s+challengerAuc\s+servedLogLoss\s+challengerLogLoss$/);
      assert.match(table[2]!, new RegExp(`^${LIVE}\\s+${CANDIDATE}\\s+60\\s`));
      assert.match(table[3]!, new RegExp(`^${CANDIDATE}\\s+${LIVE}\\s+20\\s`));
      assert.equal(table[4], '(2 rows)');
      assert.equal((await cli('--sql')).stdout, `${compareSql({ ...compareOptionsFor(spec), final: true, origin: 'online' })}\n`);
    });
  }
}

/** The pair's numbers computed here, row by row, from the rows and chargebacks as written. */
function expectedPair(rows: Prediction[], labels: Chargeback[], served: string, challenger: string): Required<ModelComparison> {
  const pair = rows.filter((p) => p.model === served && p.challengerModel === challenger);
  const y = pair.map((p) => (labels.some((c) => c.cardId === p.cardId && c.paymentTs >= p.windowEnd - MINUTE && c.paymentTs < p.windowEnd) ? 1 : 0));
  const p = pair.map((row) => row.probability);
  const q = pair.map((row) => row.challengerProbability!);
  const n = pair.length;
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const auc = (scores: number[]) => {
    const value = rocAuc(scores, y);
    return Number.isNaN(value) ? null : value;
  };
  return {
    served, challenger, rows: n,
    servedMean: sum(p) / n, challengerMean: sum(q) / n,
    meanAbsDiff: sum(p.map((v, i) => Math.abs(v - q[i]!))) / n,
    agreement: p.filter((v, i) => (v >= 0.5) === (q[i]! >= 0.5)).length / n,
    positives: sum(y), servedAuc: auc(p), challengerAuc: auc(q), servedLogLoss: logLoss(p, y), challengerLogLoss: logLoss(q, y),
  };
}

function withoutLogLoss(pair: ModelComparison): ModelComparison {
  const { servedLogLoss: _served, challengerLogLoss: _challenger, ...rest } = pair;
  return rest;
}

function withoutLabels(pair: ModelComparison): ModelComparison {
  const { positives: _p, servedAuc: _sa, challengerAuc: _ca, servedLogLoss: _sl, challengerLogLoss: _cl, ...rest } = pair;
  return rest;
}
