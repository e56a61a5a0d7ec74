import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bernoulliExpMinus, DiscreteLaplace } from '../../src/analytics/dp/discrete-laplace.ts';
import { SecureUniform } from '../../src/analytics/dp/secure-random.ts';
import { parseDpQuery } from '../../src/analytics/dp/dp-query.ts';
import { dpPlan, releaseDp } from '../../src/analytics/dp/dp-release.ts';
import { chiSquare, chiSquarePValue } from '../helpers/chi-square.ts';

/**
 * The discrete Laplace sampler against its exact distribution, computed here: P(Z = z) =
 * (1 - q) / (1 + q) · q^|z| with q = exp(-ε / Δ). A million draws per ε, binned where at least
 * 20 draws are expected and the tails pooled, must pass χ² at p > 1e-4 (a correct sampler fails
 * one of these tests once in 10,000 runs). Then the mean and variance of released counts and
 * sums against 2q / (1 - q)^2.
 */
const DRAWS = 1_000_000;
const LIMIT = { defaultRowsPerSubject: 1, maxRowsPerSubject: 10, maxEpsilon: 10 };

function pmf(q: number, z: number): number {
  return ((1 - q) / (1 + q)) * q ** Math.abs(z);
}

for (const epsilon of [0.1, 0.3, 0.5, 1, 2]) {
  test(`discrete Laplace at ε = ${epsilon} (Δ = 1): χ² goodness of fit over ${DRAWS.toLocaleString('en')} draws`, (t) => {
    const sampler = new DiscreteLaplace(1_000_000, Math.round(epsilon * 1_000_000));
    const q = Math.exp(-epsilon);
    // Central bins: every z with an expected count of at least 20; the rest pooled per side.
    let edge = 0;
    while (DRAWS * pmf(q, edge + 1) >= 20) edge++;
    const observed = new Array<number>(2 * edge + 3).fill(0);
    const started = performance.now();
    for (let i = 0; i < DRAWS; i++) {
      const z = sampler.sample();
      assert.ok(Number.isInteger(z));
      observed[z < -edge ? 0 : z > edge ? observed.length - 1 : z + edge + 1]!++;
    }
    const ms = performance.now() - started;
    const tail = q ** (edge + 1) / (1 + q); // P(Z > edge) = P(Z < -edge)
    const expected = observed.map((_, i) => DRAWS * (i === 0 || i === observed.length - 1 ? tail : pmf(q, i - edge - 1)));
    assert.ok(Math.abs(expected.reduce((a, b) => a + b, 0) - DRAWS) < 1e-6 * DRAWS, 'the bins cover the distribution');
    const statistic = chiSquare(observed, expected);
    const p = chiSquarePValue(statistic, observed.length - 1);
    t.diagnostic(`ε=${epsilon}: ${observed.length} bins, χ²=${statistic.toFixed(1)}, p=${p.toFixed(4)}, ${Math.round(ms)} ms`);
    assert.ok(p > 1e-4, `χ² ${statistic} over ${observed.length - 1} degrees of freedom: p = ${p}`);
    // The test has power: the same draws against ε·1.05 fail it.
    const wrong = Math.exp(-epsilon * 1.05);
    const wrongTail = wrong ** (edge + 1) / (1 + wrong);
    const wrongExpected = observed.map((_, i) => DRAWS * (i === 0 || i === observed.length - 1 ? wrongTail : pmf(wrong, i - edge - 1)));
    assert.ok(chiSquarePValue(chiSquare(observed, wrongExpected), observed.length - 1) < 1e-4, 'a 5% error in ε is detected');
  });
}

test('Bernoulli(exp(-γ)) for rational γ below and above 1: frequencies within 5 standard errors', () => {
  const source = new SecureUniform();
  const n = 200_000;
  for (const [num, den] of [[1, 3], [7, 5], [5, 2]] as const) {
    let hits = 0;
    for (let i = 0; i < n; i++) if (bernoulliExpMinus(source, num, den)) hits++;
    const p = Math.exp(-num / den);
    assert.ok(Math.abs(hits / n - p) < 5 * Math.sqrt((p * (1 - p)) / n), `exp(-${num}/${den}): ${hits / n} vs ${p}`);
  }
});

test('released counts and sums: mean and variance match the theory of their noise', () => {
  const runs = 100_000;
  const cases = [
    // count, k = 2, ε = 0.5: scale 4
    { query: { table: 't', aggregate: 'count', epsilon: 0.5, rowsPerSubject: 2 }, truth: { n: 1234, total: 0 }, field: 'count' as const, exact: 1234, scale: 4 },
    // sum, k = 1, bounds [-5, 20], ε = 1: scale 20 (in units of step 0.5: answers are halves)
    { query: { table: 't', aggregate: 'sum', column: 'x', lower: -2.5, upper: 10, step: 0.5, epsilon: 1 }, truth: { n: 0, total: 400 }, field: 'sum' as const, exact: 200, scale: 20 * 0.5 },
  ];
  for (const { query, truth, field, exact, scale } of cases) {
    const checked = parseDpQuery(JSON.stringify(query), LIMIT);
    const plan = dpPlan(checked, 1e-6);
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < runs; i++) {
      const value = releaseDp(checked, plan, [{ key: '', ...truth }])[0]![field]!;
      sum += value;
      squares += value * value;
    }
    const mean = sum / runs;
    const variance = squares / runs - mean * mean;
    // In units of the answer: noise scale b (Δ/ε in units) times the step.
    const unitScale = field === 'sum' ? scale / 0.5 : scale;
    const q = Math.exp(-1 / unitScale);
    const theory = ((2 * q) / (1 - q) ** 2) * (field === 'sum' ? 0.25 : 1);
    assert.ok(Math.abs(mean - exact) < 5 * Math.sqrt(theory / runs), `${field}: mean ${mean} vs ${exact}`);
    // The variance of a sample variance of Laplace-like noise is about 5·σ⁴/n: 5 standard errors.
    assert.ok(Math.abs(variance / theory - 1) < 5 * Math.sqrt(5 / runs), `${field}: variance ${variance} vs ${theory}`);
  }
});
