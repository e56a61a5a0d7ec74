import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, matchesFilter } from '../../../src/push/filter.ts';

function compiled(raw: unknown) {
  const result = compileFilter(raw);
  assert.ok(result.ok, JSON.stringify(result));
  return result.filter;
}

function problem(raw: unknown): string {
  const result = compileFilter(raw);
  assert.equal(result.ok, false);
  return (result as { problem: string }).problem;
}

test('absent and empty filters compile to no filter', () => {
  assert.equal(compiled(undefined), undefined);
  assert.equal(compiled(null), undefined);
  assert.equal(compiled({}), undefined);
  assert.equal(compiled({ min: {}, equals: {} }), undefined);
});

test('invalid filters are refused with a reason', () => {
  assert.equal(problem('keys'), 'filter must be an object');
  assert.equal(problem([1]), 'filter must be an object');
  assert.equal(problem({ key: ['a'] }), 'unknown filter field "key"; expected keys, min or equals');
  assert.equal(problem({ keys: [] }), 'filter.keys must be an array of 1 to 1000 strings');
  assert.equal(problem({ keys: 'a' }), 'filter.keys must be an array of 1 to 1000 strings');
  assert.equal(problem({ keys: Array.from({ length: 1001 }, (_, i) => `k${i}`) }), 'filter.keys must be an array of 1 to 1000 strings');
  assert.equal(problem({ keys: [1] }), 'filter.keys must hold strings of at most 256 characters');
  assert.equal(problem({ keys: ['x'.repeat(257)] }), 'filter.keys must hold strings of at most 256 characters');
  assert.equal(problem({ min: [] }), 'filter.min must be an object of field: value');
  assert.equal(problem({ min: { p: '0.5' } }), 'filter.min.p must be a finite number');
  assert.equal(problem({ min: { p: null } }), 'filter.min.p must be a finite number');
  assert.equal(problem({ equals: { s: { nested: 1 } } }), 'filter.equals.s must be a string, number, boolean or null');
  assert.equal(problem({ equals: { 'a b': 1 } }), 'filter.equals has an invalid field name');
  assert.equal(problem({ min: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`f${i}`, 0])) }), 'a filter may test at most 16 fields');
});

test('matching: every condition must hold; fields are top-level; min needs a number', () => {
  const byKey = compiled({ keys: ['a', 'b'] })!;
  assert.equal(matchesFilter(byKey, 'a', 1), true);
  assert.equal(matchesFilter(byKey, 'c', {}), false);
  assert.equal(matchesFilter(byKey, undefined, {}), false);

  const min = compiled({ min: { p: 0.5 } })!;
  assert.equal(matchesFilter(min, undefined, { p: 0.5 }), true);
  assert.equal(matchesFilter(min, undefined, { p: 0.49 }), false);
  assert.equal(matchesFilter(min, undefined, { p: '0.9' }), false);
  assert.equal(matchesFilter(min, undefined, { p: Number.NaN }), false);
  assert.equal(matchesFilter(min, undefined, { q: 1 }), false);
  assert.equal(matchesFilter(min, undefined, 0.9), false);
  assert.equal(matchesFilter(min, undefined, null), false);

  const equals = compiled({ equals: { s: 'model', n: 1, b: false, z: null } })!;
  assert.equal(matchesFilter(equals, undefined, { s: 'model', n: 1, b: false, z: null, other: 2 }), true);
  assert.equal(matchesFilter(equals, undefined, { s: 'model', n: 1, b: false }), false); // z undefined !== null
  assert.equal(matchesFilter(equals, undefined, { s: 'model', n: '1', b: false, z: null }), false);

  const all = compiled({ keys: ['a'], min: { p: 0.5 }, equals: { s: 'model' } })!;
  assert.equal(matchesFilter(all, 'a', { p: 0.7, s: 'model' }), true);
  assert.equal(matchesFilter(all, 'b', { p: 0.7, s: 'model' }), false);
  assert.equal(matchesFilter(all, 'a', { p: 0.3, s: 'model' }), false);
  assert.equal(matchesFilter(all, 'a', { p: 0.7, s: 'prior' }), false);
});
