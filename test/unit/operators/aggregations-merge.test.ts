import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { avg, count, distinctCount, first, last, max, min, stddev, sum, type Aggregation } from '../../../src/operators/windows/aggregations.ts';

interface Item {
  v: number;
  t: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyAggregation = Aggregation<Item, any, unknown>;

const value = (item: Item) => item.v;

/** Integer values (sums stay exact) and a few distinct times, so event-time ties are common. */
const items = fc.array(fc.record({ v: fc.integer({ min: -1000, max: 1000 }), t: fc.integer({ min: 0, max: 5 }) }), { maxLength: 30 });

function fold<A>(aggregation: Aggregation<Item, A, unknown>, list: readonly Item[]): A {
  let acc = aggregation.init();
  for (const item of list) acc = aggregation.add(acc, item, item.t);
  return acc;
}

const exact: Record<string, AnyAggregation> = {
  count: count<Item>(),
  sum: sum(value),
  min: min(value),
  max: max(value),
  avg: avg(value),
  first: first(value),
  last: last(value),
  distinctCount: distinctCount(value),
};

for (const [name, aggregation] of Object.entries(exact)) {
  test(`${name}: merge(a, b) equals aggregating the concatenation, leaves b alone, and init() is neutral`, () => {
    fc.assert(
      fc.property(items, items, (xs, ys) => {
        const whole = aggregation.result(fold(aggregation, [...xs, ...ys]));
        const right = fold(aggregation, ys);
        const rightBefore = aggregation.result(right);
        assert.deepEqual(aggregation.result(aggregation.merge(fold(aggregation, xs), right)), whole);
        assert.deepEqual(aggregation.result(right), rightBefore);
        assert.deepEqual(aggregation.result(aggregation.merge(aggregation.init(), fold(aggregation, ys))), rightBefore);
      }),
    );
  });
}

/** Two-pass population standard deviation. */
function referenceStddev(list: readonly number[]): number {
  if (list.length === 0) return NaN;
  const mean = list.reduce((a, b) => a + b, 0) / list.length;
  return Math.sqrt(list.reduce((a, x) => a + (x - mean) * (x - mean), 0) / list.length);
}

test('stddev: merge(a, b) equals aggregating the concatenation within 1e-9 relative, and both match a two-pass reference', () => {
  const aggregation = stddev(value);
  fc.assert(
    fc.property(items, items, (xs, ys) => {
      const expected = referenceStddev([...xs, ...ys].map(value));
      const merged = aggregation.result(aggregation.merge(fold(aggregation, xs), fold(aggregation, ys)));
      const sequential = aggregation.result(fold(aggregation, [...xs, ...ys]));
      for (const actual of [merged, sequential]) {
        if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual));
        else assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected) + 1e-12, `${actual} vs ${expected}`);
      }
    }),
  );
});

test('stddev is 0 for one value and stays accurate for values with a large mean', () => {
  const aggregation = stddev(value);
  assert.equal(aggregation.result(fold(aggregation, [{ v: 42, t: 0 }])), 0);
  const big = [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16].map((v, t) => ({ v, t }));
  const merged = aggregation.merge(fold(aggregation, big.slice(0, 1)), fold(aggregation, big.slice(1)));
  assert.ok(Math.abs(aggregation.result(merged) - Math.sqrt(22.5)) < 1e-6);
});

test('first and last break event-time ties by arrival: first keeps a, last takes b', () => {
  const a = [{ v: 1, t: 10 }];
  const b = [{ v: 2, t: 10 }];
  const firstOf = first(value);
  const lastOf = last(value);
  assert.equal(firstOf.result(firstOf.merge(fold(firstOf, a), fold(firstOf, b))), 1);
  assert.equal(lastOf.result(lastOf.merge(fold(lastOf, a), fold(lastOf, b))), 2);
  // The event time decides before arrival does.
  assert.equal(firstOf.result(fold(firstOf, [{ v: 5, t: 9 }, { v: 6, t: 3 }])), 6);
  assert.equal(lastOf.result(fold(lastOf, [{ v: 5, t: 9 }, { v: 6, t: 3 }])), 5);
});
