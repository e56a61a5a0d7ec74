import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelIndex } from '../../../src/training/label-join.ts';
import { timeSplit } from '../../../src/training/train-from-clickhouse.ts';
import { servingPlan } from '../../../src/registry/lifecycle.ts';
import type { ModelVersion } from '../../../src/registry/model-registry.ts';

test('LabelIndex: a row at t is positive when its entity has a label in [t - window, t)', () => {
  const index = new LabelIndex([
    { entity: 'a', time: 5_000 },
    { entity: 'a', time: 1_000 },
    { entity: 'a', time: 1_000 }, // a replayed copy changes nothing
    { entity: 'b', time: 60_000 },
  ]);
  assert.equal(index.events, 4);
  const window = 60_000;
  assert.deepEqual([1_000, 1_001, 5_000, 5_001, 61_000, 65_000, 65_001].map((t) => index.label('a', t, window)), [0, 1, 1, 1, 1, 1, 0]);
  assert.deepEqual([60_000, 60_001, 120_000, 120_001].map((t) => index.label('b', t, window)), [0, 1, 1, 0]);
  assert.equal(index.label('c', 60_000, window), 0);
});

test('timeSplit: rows up to 75% of the time range train, the rest is held out', () => {
  const rows = [0, 10, 20, 30, 30, 40].map((time) => ({ time }));
  assert.deepEqual(timeSplit(rows, 0.25), { trainedFrom: 0, trainedTo: 40, splitAt: 30, cut: 5 });
  assert.deepEqual(timeSplit([{ time: 7 }, { time: 7 }], 0.25), { trainedFrom: 7, trainedTo: 7, splitAt: 7, cut: 2 });
});

test('servingPlan: the live version and the canary or shadow, the latest change winning', () => {
  const v = (version: string, status: ModelVersion['status'], updatedAt: number) => ({ version, status, updatedAt }) as ModelVersion;
  assert.deepEqual(servingPlan([]), { live: undefined, candidate: undefined });
  const plan = servingPlan([v('a', 'live', 1), v('b', 'retired', 2), v('c', 'canary', 3), v('d', 'live', 4), v('e', 'candidate', 5)]);
  assert.deepEqual([plan.live?.version, plan.candidate?.version], ['d', 'c']);
  assert.equal(servingPlan([v('c', 'canary', 3), v('f', 'shadow', 6)]).candidate?.version, 'f');
});
