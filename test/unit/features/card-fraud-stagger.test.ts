import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopology, kafkaTopic, type SinkSpec } from 'tributary';
import { runOnArray, CardPaymentModel, type Payment } from 'tributary/testing';
import { cardFeatureSet, type CardFeatures } from '../../../topologies/card-fraud-features.ts';
import { byCardAndEnd, referenceCardFeatures } from '../../helpers/fraud-reference.ts';

const START = Date.UTC(2026, 2, 2, 8, 0, 0);

function topology(stagger?: string) {
  const features = cardFeatureSet({ stagger });
  return defineTopology({
    name: 'card-features-stagger-test',
    source: kafkaTopic<Payment>({ topic: 'payments', format: 'avro-confluent', eventTime: (p) => p.ts, outOfOrderness: '5s' }),
    pipeline: (payments) => ({ features: features.compute(payments) }),
    sinks: { features: [] as SinkSpec<never>[] },
  });
}

function payments(): Payment[] {
  const model = new CardPaymentModel({ seed: 11, cards: 120, lateShare: 0 });
  return Array.from({ length: 6_000 }, (_, i) => model.next(START + i * 200).payment);
}

test('staggered card features equal the reference with each card on its own phase of the minute', async () => {
  const events = payments();
  const { outputs } = await runOnArray(topology('1s'), events, { batchSize: 500 });
  const rows = [...(outputs.features as CardFeatures[])].sort(byCardAndEnd);
  // runOnArray closes every window at the end of its input, as the reference does.
  const expected = referenceCardFeatures(events, 1_000);
  assert.ok(expected.length > 1_000, `${expected.length} reference rows`);
  assert.deepEqual(rows, expected);
  // 120 cards over 60 phases: the minute's rows end at many instants, not on the minute.
  const phases = new Set(rows.map((row) => row.windowEnd % 60_000));
  assert.ok(phases.size >= 40, `${phases.size} distinct phases`);
  assert.ok(rows.every((row) => row.featureVersion === 'v1-stagger-1000ms'));
});

test('aligned card features (no stagger) still equal the aligned reference, as feature version v1', async () => {
  const events = payments();
  const { outputs } = await runOnArray(topology(), events, { batchSize: 500 });
  assert.deepEqual([...(outputs.features as CardFeatures[])].sort(byCardAndEnd), referenceCardFeatures(events));
});

test('a staggered feature set is its own version, with its own online keys', () => {
  assert.equal(cardFeatureSet().version, 'v1');
  assert.equal(cardFeatureSet({ stagger: '1s' }).version, 'v1-stagger-1000ms');
  assert.equal(cardFeatureSet({ stagger: '1s' }).onlinePrefix, 'features:card-features:v1-stagger-1000ms:');
});
