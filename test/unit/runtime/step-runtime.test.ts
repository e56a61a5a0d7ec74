import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localEngineConfig } from '../../helpers/local-engine-config.ts';
import { Engine } from '../../../src/runtime/engine.ts';
import { generatorSource } from '../../../src/sources/generator/generator-source.ts';
import { CardPaymentModel, type Payment } from '../../../src/sources/generator/card-payments.ts';
import { defineTopology } from '../../../src/topology/define-topology.ts';
import { score } from '../../../src/operators/score.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { cardFeatures, FRAUD_FEATURE_NAMES, fraudFeatureVector } from '../../../topologies/card-fraud-features.ts';
import { DEFAULT_MODEL_PATH } from '../../../topologies/card-fraud.ts';

test('a score step in a running topology reports to the engine metrics without being given them', { timeout: 60_000 }, async () => {
  const source = generatorSource<Payment>({
    events: () => {
      const model = new CardPaymentModel({ seed: 3 });
      return { next: (time) => model.next(time).payment };
    },
    eventTime: (p) => p.ts,
    eventsPerSecond: 50,
    pace: 'max',
    limit: 3_000,
    startTime: Date.UTC(2026, 0, 1),
  });
  const topology = defineTopology({
    name: 'scored',
    source,
    demoSource: source,
    pipeline: (payments) => ({
      predictions: cardFeatures(payments).pipe(score(DEFAULT_MODEL_PATH, { name: 'fraud-score', featureNames: FRAUD_FEATURE_NAMES, features: fraudFeatureVector, output: (f, probability) => ({ ...f, probability }) })),
    }),
    sinks: {},
  });
  const metrics = new Metrics();
  const engine = await Engine.start(topology, {
    config: localEngineConfig({ maxOpenWindows: 1_000_000 }),
    logger: silentLogger,
    metrics,
    push: false,
  });
  await engine.done;
  await engine.stop();
  const scored = (await metrics.scoredRows.get()).values.reduce((total, v) => total + v.value, 0);
  assert.equal(scored, engine.stats().routed.predictions);
  assert.ok(scored > 0);
  assert.equal((await metrics.scoringSeconds.get()).values.find((v) => v.metricName === 'tributary_scoring_seconds_count')?.labels.topology, 'scored');
});
