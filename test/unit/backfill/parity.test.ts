import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDifference, rowDifferences, sameValue } from '../../../src/backfill/parity-compare.ts';
import { parityTarget, parityTopology, RecomputedRows } from '../../../src/backfill/parity-plan.ts';
import { formatReport } from '../../../src/cli/audit-parity-command.ts';
import { createCardFraudTopology } from '../../../topologies/card-fraud.ts';
import { createPaymentAuthorizationsTopology } from '../../../topologies/payment-authorizations.ts';

test('values agree within 1e-9 relative (an integer may come back as a string); anything else must be equal', () => {
  assert.ok(sameValue(197.17, 197.17));
  assert.ok(sameValue(197.17 + 197.17 * 1e-12, 197.17), 'one ulp or so of a 18.16 parse');
  assert.ok(!sameValue(197.18, 197.17));
  assert.ok(sameValue('1780495200000', 1_780_495_200_000));
  assert.ok(!sameValue('', 0), 'an empty string is not zero');
  assert.ok(!sameValue(undefined, 3), 'missing is a difference');
  assert.ok(sameValue('v1', 'v1') && !sameValue('v2', 'v1'));
  assert.ok(sameValue(null, null) && !sameValue(null, 0));
});

test('a row difference names the column and both values; revision and origin are the stores\' own', () => {
  const stored = { cardId: 'c', windowEnd: 60_000, count1m: '3', sum1m: 10.5, revision: 4, origin: 'online' };
  const recomputed = { cardId: 'c', windowEnd: 60_000, count1m: 2, sum1m: 10.5, revision: 0 };
  const differences = rowDifferences('clickhouse', 'c', 60_000, stored, recomputed, ['cardId', 'windowEnd', 'count1m', 'sum1m', 'revision']);
  assert.deepEqual(differences, [{ store: 'clickhouse', key: 'c', window: 60_000, column: 'count1m', stored: '3', recomputed: 2 }]);
  assert.equal(formatDifference(differences[0]!), 'clickhouse\tc\t1970-01-01T00:01:00.000Z\tcount1m\tstored="3"\trecomputed=2');
  assert.equal(formatDifference({ ...differences[0]!, column: '(row)', stored: undefined, recomputed: 'present' }), 'clickhouse\tc\t1970-01-01T00:01:00.000Z\t(row)\tstored=missing\trecomputed="present"');
});

test('the audited output is the one writing the lifecycle\'s feature table, with its online state; a topology without a lifecycle is refused', () => {
  const topology = createCardFraudTopology({ tablePrefix: 'p_', statePrefix: 's:' });
  const target = parityTarget(topology);
  assert.deepEqual({ ...target, state: target.state?.prefix }, { output: 'features', table: 'p_card_features', entityColumn: 'cardId', timeColumn: 'windowEnd', featureVersion: 'v1', state: 's:features:card-features:v1:' });
  assert.equal(target.state!.storeKey({ value: {}, key: 'card-7', eventTime: 0, topic: '', partition: 0, offset: '' }), 's:features:card-features:v1:card-7');
  const audited = parityTopology(topology, target, new RecomputedRows(target, 0, 1));
  assert.deepEqual(Object.keys(audited.sinks), ['features']);
  assert.deepEqual(audited.models, [], 'no model is started: nothing is scored');
  assert.throws(() => parityTarget(createPaymentAuthorizationsTopology()), /declares no lifecycle/);
});

test('recomputed rows: windows ending in (from, to] only, the highest revision of each', () => {
  const target = parityTarget(createCardFraudTopology());
  const rows = new RecomputedRows(target, 60_000, 180_000);
  const record = (windowEnd: number, revision: number, count1m: number) => ({ value: { cardId: 'c', windowEnd, revision, count1m }, key: 'c', eventTime: windowEnd - 1, topic: '', partition: 0, offset: '' });
  rows.add([record(60_000, 0, 1), record(120_000, 1, 5), record(120_000, 0, 4), record(180_000, 0, 2), record(240_000, 0, 9)]);
  assert.deepEqual([...rows.rows.values()].map((r) => [r.windowEnd, r.count1m]), [[120_000, 5], [180_000, 2]]);
  assert.equal(rows.outside, 2);
});

test('the report: a line per difference, then the summary with the counts per store', () => {
  const text = formatReport({
    topology: 'card-fraud', output: 'features', table: 'card_features', from: 0, to: 60_000, events: 10, recomputed: 4, stored: 4, keys: 2,
    redis: { prefix: 'tributary:card-fraud:features:', compared: 2, missing: 0, newer: 0 }, late: 0, deadLetters: 0, seconds: 1.25,
    differences: [{ store: 'redis', key: 'c', window: 60_000, column: 'sum1m', stored: 3, recomputed: 2 }],
  });
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.equal(lines[0], 'redis\tc\t1970-01-01T00:01:00.000Z\tsum1m\tstored=3\trecomputed=2');
  assert.match(lines[1]!, /4 windows of 2 keys recomputed, 4 stored in card_features; Redis tributary:card-fraud:features:\*: 2 keys compared.*1 difference \(0 in ClickHouse, 1 in Redis\)$/);
});
