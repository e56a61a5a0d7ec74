import { test } from 'node:test';
import assert from 'node:assert/strict';
import { of } from 'rxjs';
import { defineFeatureSet, type FeatureSetDefinition } from '../../../src/features/feature-set.ts';
import { CARD_FEATURES } from '../../../topologies/card-fraud-features.ts';

const valid: FeatureSetDefinition<number, { id: string; x: number }> = {
  name: 'test-features',
  version: 'v2',
  entity: 'thing',
  compute: () => of(),
  featureNames: ['x'],
  vector: (f) => [f.x],
  entityId: (f) => f.id,
};

test('a feature set: id, online key prefix and lookback in ms, frozen', () => {
  const set = defineFeatureSet({ ...valid, lookback: '90s' });
  assert.equal(set.id, 'test-features@v2');
  assert.equal(set.onlinePrefix, 'features:test-features:v2:');
  assert.equal(set.lookbackMs, 90_000);
  assert.equal(defineFeatureSet(valid).lookbackMs, 0, 'no lookback: no warm-up');
  assert.ok(Object.isFrozen(set));
  assert.equal(CARD_FEATURES.lookbackMs, 300_000, "card-fraud's longest window is 5 minutes");
});

test('a malformed feature set fails at load with the field and the fix', () => {
  const cases: Array<[Partial<FeatureSetDefinition<number, { id: string; x: number }>>, string]> = [
    [{ name: 'Card Features' }, 'featureSet.name'],
    [{ version: 'v 1' }, 'featureSet test-features.version'],
    [{ entity: '' }, 'featureSet test-features.entity'],
    [{ featureNames: ['x', 'x'] }, 'featureSet test-features.featureNames'],
    [{ featureNames: [] }, 'featureSet test-features.featureNames'],
    [{ vector: undefined as never }, 'featureSet test-features.vector'],
    [{ lookback: '5 minutes' }, 'featureSet test-features.lookback'],
    [{ lookback: -1 }, 'featureSet test-features.lookback'],
  ];
  for (const [change, field] of cases) {
    assert.throws(() => defineFeatureSet({ ...valid, ...change }), (error: Error & { field?: string }) => error.name === 'ConfigError' && error.field === field, JSON.stringify(change));
  }
});
