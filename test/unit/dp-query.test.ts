import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDpQuery } from '../../src/analytics/dp/dp-query.ts';
import { dpStatement } from '../../src/analytics/dp/dp-sql.ts';
import { dpPlan } from '../../src/analytics/dp/dp-release.ts';

const LIMITS = { defaultRowsPerSubject: 1, maxRowsPerSubject: 10, maxEpsilon: 1 };
const refused = (query: unknown) => assert.throws(() => parseDpQuery(JSON.stringify(query), LIMITS), (error: Error & { sqlCode?: string }) => error.sqlCode === 'BAD_REQUEST');

test('DP queries: the statement bounds each subject to k rows and clamps values, names quoted', () => {
  const query = parseDpQuery(JSON.stringify({ table: 'payments', aggregate: 'sum', column: 'amount', groupBy: 'merchant', groups: ['m1'], lower: -1, upper: 5, step: 0.5, epsilon: 0.5, rowsPerSubject: 3 }), LIMITS);
  assert.equal(
    dpStatement(query, 'analytics', 'cardId'),
    'SELECT toString(`__tributary_dp_key`) AS dp_key, count() AS dp_n, sum(`__tributary_dp_value`) AS dp_total FROM (' +
      'SELECT `cardId` AS `__tributary_dp_subject`, toString(`merchant`) AS `__tributary_dp_key`, greatest(least(toInt64(round(`amount` / 0.5)), 10), -2) AS `__tributary_dp_value` ' +
      'FROM `analytics`.`payments` WHERE `amount` IS NOT NULL LIMIT 3 BY `__tributary_dp_subject`) GROUP BY `__tributary_dp_key`',
  );
  // Δ = k · max(|lower|, |upper|) in units = 3 · 10; public groups: the sum alone spends ε.
  assert.deepEqual(dpPlan(query, 1e-6), { sum: { numerator: 60, denominator: 1, value: 60 } });
});

test('DP queries: without public groups, a noisy count over a threshold decides which groups show', () => {
  const query = parseDpQuery(JSON.stringify({ table: 't', aggregate: 'count', groupBy: 'g', epsilon: 1 }), LIMITS);
  const plan = dpPlan(query, 1e-6);
  // Scale 1: P(Z >= m) = e^-m / (1 + e^-1) <= 1e-6 first at m = 14 (e^-14 / 1.368 = 6.1e-7).
  assert.equal(plan.threshold, 1 + 14);
});

test('DP queries: refusals name the field', () => {
  refused('SELECT 1');
  refused({ table: 't; DROP TABLE x', aggregate: 'count', epsilon: 0.5 });
  refused({ table: 't', aggregate: 'count', epsilon: 0 });
  refused({ table: 't', aggregate: 'count', epsilon: 2 });
  refused({ table: 't', aggregate: 'median', epsilon: 0.5 });
  refused({ table: 't', aggregate: 'sum', column: 'x', epsilon: 0.5 });
  refused({ table: 't', aggregate: 'sum', column: 'x', lower: 0, upper: 1.25, epsilon: 0.5 });
  refused({ table: 't', aggregate: 'count', epsilon: 0.5, rowsPerSubject: 11 });
  refused({ table: 't', aggregate: 'count', epsilon: 0.5, subject: 'other' });
  refused({ table: 't', aggregate: 'count', groups: ['a'], epsilon: 0.5 });
  refused({ table: 't', aggregate: 'histogram', column: 'x', lower: 0, upper: 10_000, step: 1, epsilon: 0.5 });
});
