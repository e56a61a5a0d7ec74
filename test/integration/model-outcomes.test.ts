import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import { computeOutcomes, OutcomesTable, type ModelOutcome } from '../../src/registry/model-outcomes.ts';
import { SeededRandom } from '../../src/sources/generator/random.ts';
import type { Chargeback } from '../../src/sources/generator/chargebacks.ts';
import { clickhouseTable } from '../../src/sinks/clickhouse/table-sink.ts';
import { createChargebacksTopology } from '../../topologies/chargebacks.ts';
import { cardFraudLifecycle } from '../../topologies/card-fraud.ts';
import { clickhouseTargets, type ClickHouseTarget } from '../helpers/clickhouse-targets.ts';
import { close, referenceOutcome, type Scored } from '../helpers/outcome-reference.ts';
import { REPO_ROOT } from '../helpers/services.ts';
import { writeThroughSink } from '../helpers/sink-writes.ts';

const run = promisify(execFile);
const A = 'aaaaaaaaaaaa';
const B = 'bbbbbbbbbbbb';
const DAY = 86_400_000;
const MINUTE = 60_000;
const DAY1 = Date.UTC(2026, 3, 10);
const K = 20;

interface Prediction {
  cardId: string; windowEnd: number; probability: number; model: string; source: string; modelVersion: string; featureVersion: string;
  challengerModel: string; challengerProbability: number | null; revision: number;
  count1m: number; sum1m: number; max1m: number; count5m: number; sum5m: number; max5m: number;
}

/**
 * Rows of two versions over two UTC days, with many tied scores (sixteenths, 0 and 1 included),
 * version B's second day too small for k and with no positive label at all, and rows the metrics
 * must leave out: fallback and batch rows, another model, an old revision, backfilled copies.
 */
function predictions(): { counted: Prediction[]; written: Prediction[]; backfilled: Prediction[] } {
  const random = new SeededRandom(5);
  const row = (i: number, version: string, day: number, overrides: Partial<Prediction> = {}): Prediction => ({
    cardId: `card-${String(i % 40).padStart(3, '0')}`, windowEnd: day + (Math.floor(i / 40) + 1) * MINUTE, probability: random.int(17) / 16, model: `fraud-lr@${version}`, source: 'model', modelVersion: version,
    featureVersion: 'v1', challengerModel: '', challengerProbability: null, revision: 0, count1m: 1, sum1m: 2, max1m: 2, count5m: 1, sum5m: 2, max5m: 2, ...overrides,
  });
  const counted: Prediction[] = [];
  for (let i = 0; i < 200; i++) counted.push(row(i, A, DAY1));
  for (let i = 0; i < 120; i++) counted.push(row(i, A, DAY1 + DAY));
  for (let i = 200; i < 280; i++) counted.push(row(i, B, DAY1)); // other windows of the same cards
  for (let i = 200; i < 212; i++) counted.push(row(i, B, DAY1 + DAY, { cardId: `card-no-labels-${i}` }));
  const stale = { ...counted[3]!, probability: 1 - counted[3]!.probability };
  counted[3] = { ...counted[3]!, revision: 2 };
  const excluded = [
    row(300, A, DAY1, { source: 'fallback', model: 'prior', modelVersion: '' }),
    row(301, B, DAY1, { source: 'batch' }),
    row(302, A, DAY1, { model: 'other-lr@cccccccccccc', modelVersion: 'cccccccccccc' }),
  ];
  const backfilled = counted.slice(0, 30).map((p) => ({ ...p, probability: 0.5, revision: 5 }));
  return { counted, written: [...counted, stale, ...excluded], backfilled };
}

/** Chargebacks on about a third of the counted windows' cards: inside [end - 1m, end), on its edges, outside. */
function chargebacks(rows: Prediction[]): Chargeback[] {
  const random = new SeededRandom(11);
  const offsets = [-30_000, -MINUTE, 0, -MINUTE - 1, -1, -59_999];
  return rows.filter((p) => !p.cardId.startsWith('card-no-labels') && random.next() < 0.3).map((p, i) => {
    const paymentTs = p.windowEnd + offsets[i % offsets.length]!;
    return { chargebackId: `cb-${i}`, paymentId: `p-${i}`, cardId: p.cardId, paymentTs, reportedAt: paymentTs + 5 * DAY, reason: 'fraud-card-present' };
  });
}

/** Per version and day, the metrics computed here from the rows and labels as written. */
function expected(rows: Prediction[], labels: Chargeback[], k: number): Map<string, ReturnType<typeof referenceOutcome>> {
  const groups = new Map<string, Scored[]>();
  for (const p of rows) {
    const label = labels.some((c) => c.cardId === p.cardId && c.paymentTs >= p.windowEnd - MINUTE && c.paymentTs < p.windowEnd) ? 1 : 0;
    const key = `${p.modelVersion}|${Math.floor(p.windowEnd / DAY) * DAY}`;
    groups.set(key, [...(groups.get(key) ?? []), { score: p.probability, label }]);
  }
  return new Map([...groups].map(([key, scored]) => [key, referenceOutcome(scored, k)]));
}

function assertOutcomes(actual: readonly ModelOutcome[], reference: Map<string, ReturnType<typeof referenceOutcome>>): void {
  assert.deepEqual(actual.map((o) => `${o.version}|${o.dayStart}`).sort(), [...reference.keys()].sort());
  for (const o of actual) {
    const r = reference.get(`${o.version}|${o.dayStart}`)!;
    const at = `${o.version} ${o.day}`;
    assert.equal(o.model, 'fraud-lr');
    assert.deepEqual([o.rows, o.positives, o.k, o.day], [r.rows, r.positives, r.k, new Date(o.dayStart).toISOString().slice(0, 10)], at);
    for (const metric of ['auc', 'logLoss', 'ece', 'precisionAtK'] as const) assert.ok(close(o[metric], r[metric]), `${at} ${metric}: ${o[metric]} vs ${r[metric]}`);
  }
}

for (const target of clickhouseTargets()) describe(target.label, () => outcomesSuite(target));

function outcomesSuite(target: ClickHouseTarget): void {
  const prefix = `out_${randomBytes(5).toString('hex')}_`;
  const spec = cardFraudLifecycle(prefix);
  const { counted, written, backfilled } = predictions();
  const labels = chargebacks(counted);
  let client: ClickHouseClient;

  before(async () => {
    client = await target.connect();
    const sink = clickhouseTable<Prediction>(spec.predictionsTable, { schema: 'fraud_prediction.avsc', orderBy: ['cardId', 'windowEnd', 'featureVersion'], timeField: 'windowEnd', versionColumn: 'revision', origin: true });
    await writeThroughSink(sink, client, written, (p) => p.windowEnd);
    await writeThroughSink(sink, client, backfilled, (p) => p.windowEnd, 'backfill');
    await writeThroughSink(createChargebacksTopology({ tablePrefix: prefix }).sinks.raw![0]!, client, labels, (c) => c.reportedAt);
  });

  after(async () => {
    if (client) {
      for (const table of [spec.predictionsTable, spec.labels.table, spec.outcomesTable!, `${prefix}dead_letters`]) await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
      await client.close();
    }
    await target.cleanup?.();
  });

  test('AUC, log loss, ECE and precision at k per version and UTC day equal the metrics computed here, ties and an all-negative day included', async () => {
    const reference = expected(counted, labels, K);
    const outcomes = await computeOutcomes(client, spec, { k: K });
    assertOutcomes(outcomes, reference);
    assert.equal(outcomes.length, 4);
    const noLabels = outcomes.find((o) => o.version === B && o.dayStart === DAY1 + DAY)!;
    assert.deepEqual([noLabels.rows, noLabels.positives, noLabels.auc, noLabels.k, noLabels.precisionAtK], [12, 0, null, 12, 0], 'one class: no AUC; fewer rows than k: k is the rows');
    assert.ok(outcomes.every((o) => o.auc === null || (o.positives > 0 && o.positives < o.rows)));
    // A range selects predictions by time: only the first day.
    assertOutcomes(await computeOutcomes(client, spec, { k: K, from: DAY1, to: DAY1 + DAY }), expected(counted.filter((p) => p.windowEnd < DAY1 + DAY), labels, K));
  });

  test('the outcomes table keeps the latest computation per version and day', async () => {
    const table = new OutcomesTable(client, spec.outcomesTable);
    const first = await computeOutcomes(client, spec, { k: K }, 1_000);
    await table.write(first.map((o) => ({ ...o, rows: o.rows + 1 })));
    await table.write(first.map((o) => ({ ...o, computedAt: 2_000 })));
    const read = await table.read('fraud-lr');
    const key = (o: ModelOutcome) => `${o.version}|${o.dayStart}`;
    assert.deepEqual(read.map((o) => [key(o), o.rows, o.computedAt]).sort(), first.map((o) => [key(o), o.rows, 2_000]).sort());
    assert.deepEqual(read.map((o) => o.dayStart), [...read.map((o) => o.dayStart)].sort((a, b) => b - a), 'newest day first');
    assertOutcomes(read, expected(counted, labels, K));
  });

  if (target.label.includes('CLICKHOUSE_URL')) {
    test('tributary models outcomes prints and stores them; models compare shows them after the comparison', async () => {
      const env = { ...process.env, LIFECYCLE_TEST_PREFIX: prefix, LOG_LEVEL: 'warn' };
      const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'models', ...args], { cwd: REPO_ROOT, env });
      await client.command({ query: `DROP TABLE IF EXISTS ${spec.outcomesTable}` });
      const printed = JSON.parse((await cli('outcomes', 'test/fixtures/lifecycle-topology.ts', '--k', String(K), '--format', 'json')).stdout) as ModelOutcome[];
      assertOutcomes(printed, expected(counted, labels, K));
      assertOutcomes(await new OutcomesTable(client, spec.outcomesTable).read('fraud-lr'), expected(counted, labels, K));
      const table = (await cli('outcomes', 'test/fixtures/lifecycle-topology.ts', '--k', String(K), '--no-write')).stdout.split('\n');
      assert.match(table[0]!, /^version\s+day\s+rows\s+positives\s+auc\s+log_loss\s+ece\s+precision_at_k\s+k$/);
      assert.match(table[2]!, new RegExp(`^fraud-lr@${A}\\s+2026-04-10\\s+200\\s`));
      assert.equal(table[6], '(4 rows)');
      const compared = JSON.parse((await cli('compare', 'test/fixtures/lifecycle-topology.ts', '--format', 'json')).stdout) as { comparison: unknown[]; outcomes: ModelOutcome[] };
      assert.deepEqual(compared.comparison, [], 'no row was scored by two versions');
      assertOutcomes(compared.outcomes, expected(counted, labels, 100));
    });
  }
}
