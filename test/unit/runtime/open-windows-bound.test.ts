import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../../src/runtime/engine.ts';
import { generatorSource } from '../../../src/sources/generator/generator-source.ts';
import { defineTopology } from '../../../src/topology/define-topology.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { tumbling } from '../../../src/operators/windows/tumbling.ts';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { count } from '../../../src/operators/windows/aggregations.ts';
import { StateLimitError } from '../../../src/core/errors.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { localEngineConfig } from '../../helpers/local-engine-config.ts';

interface Event {
  user: string;
  ts: number;
}

function config(maxOpenWindows: number) {
  return localEngineConfig({ maxOpenWindows });
}

/** One-hour windows per user; every event is a new user, so each opens a window. */
function topology(users: number) {
  const source = generatorSource<Event>({
      events: () => {
        let i = 0;
        return { next: (time) => ({ user: `u${i++ % users}`, ts: time }) };
      },
      eventTime: (e) => e.ts,
      eventsPerSecond: 1_000,
      pace: 'max',
      limit: 5_000,
      startTime: Date.UTC(2026, 0, 1),
  });
  return defineTopology({
    name: 'bounded',
    source,
    demoSource: source,
    pipeline: (events) => ({ counts: events.pipe(keyBy((e) => e.user), tumbling('1h'), aggregate({ n: count() }, { name: 'per-user-hour' })) }),
    sinks: {},
  });
}

test('past the bound on open windows the engine stops with an error naming the step, the bound and the fix; the metric shows the count', async () => {
  const metrics = new Metrics();
  const engine = await Engine.start(topology(5_000), { config: config(1_000), logger: silentLogger, metrics, push: false });
  const error = await engine.done.then(
    () => assert.fail('the engine must stop with an error'),
    (caught: unknown) => caught,
  );
  await engine.stop();
  assert.ok(error instanceof StateLimitError, String(error));
  assert.equal(error.retriable, false);
  assert.equal(error.step, 'per-user-hour');
  assert.match(error.message, /step per-user-hour: \d+ open windows exceed the bound of 1000 \(TRIBUTARY_MAX_OPEN_WINDOWS\)\. Fix: raise TRIBUTARY_MAX_OPEN_WINDOWS/);
  const gauge = (await metrics.openWindows.get()).values.find((v) => v.labels.step === 'per-user-hour');
  assert.ok(gauge !== undefined && gauge.value > 1_000, `gauge ${JSON.stringify(gauge)}`);
});

test('under the bound the same input runs to the end and the gauge reports the open windows', async () => {
  const metrics = new Metrics();
  const engine = await Engine.start(topology(500), { config: config(1_000), logger: silentLogger, metrics, push: false });
  await engine.done;
  await engine.stop();
  const gauge = (await metrics.openWindows.get()).values.find((v) => v.labels.step === 'per-user-hour');
  assert.equal(gauge?.value, 500, '500 users, one open hour each, before the end of input closed them');
});
