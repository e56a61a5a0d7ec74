import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { BatchHistogram } from '../../../src/observability/batch-histogram.ts';

const BUCKETS = [0.1, 1, 10];

test('renders exactly what prom-client renders for the same observations', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const batch = new BatchHistogram({ name: 'latency_seconds', help: 'Latency', labelNames: ['sink'], buckets: BUCKETS, registers: [ours] });
  const reference = new Histogram({ name: 'latency_seconds', help: 'Latency', labelNames: ['sink'], buckets: BUCKETS, registers: [theirs] });
  const values = { a: [0.05, 0.1, 0.5, 1, 3, 10, 11, 250], b: [0, 2] };
  for (const [sink, observations] of Object.entries(values)) {
    const series = batch.labels({ sink });
    for (const value of observations) {
      series.observe(value);
      reference.observe({ sink }, value);
    }
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('observeSecondsSince bins every row of a batch as seconds since its time; future times count as 0', async () => {
  const registry = new Registry();
  const histogram = new BatchHistogram({ name: 'e2e_seconds', help: 'End to end', labelNames: ['sink'], buckets: BUCKETS, registers: [registry] });
  const rows = [{ t: 1_000 }, { t: 9_950 }, { t: 9_500 }, { t: 5_000 }, { t: 12_000 }];
  histogram.labels({ sink: 's' }).observeSecondsSince(rows, (row) => row.t, 10_000);
  const text = await registry.metrics();
  // Ages: 9 s, 0.05 s, 0.5 s, 5 s, 0 s (in the future).
  assert.match(text, /^e2e_seconds_bucket\{le="0\.1",sink="s"\} 2$/m);
  assert.match(text, /^e2e_seconds_bucket\{le="1",sink="s"\} 3$/m);
  assert.match(text, /^e2e_seconds_bucket\{le="10",sink="s"\} 5$/m);
  assert.match(text, /^e2e_seconds_bucket\{le="\+Inf",sink="s"\} 5$/m);
  assert.match(text, /^e2e_seconds_sum\{sink="s"\} 14\.55$/m);
  assert.match(text, /^e2e_seconds_count\{sink="s"\} 5$/m);
});

test('a series is exported with zero counts once created; reset clears every series; NaN is ignored', async () => {
  const registry = new Registry();
  const histogram = new BatchHistogram({ name: 'h', help: 'H', labelNames: ['sink'], buckets: [1], registers: [registry] });
  const series = histogram.labels({ sink: 'x' });
  assert.equal(histogram.labels({ sink: 'x' }), series, 'one series per label set');
  series.observe(Number.NaN);
  assert.match(await registry.metrics(), /^h_count\{sink="x"\} 0$/m);
  registry.resetMetrics();
  assert.doesNotMatch(await registry.metrics(), /h_count/);
  assert.throws(() => new BatchHistogram({ name: 'h', help: 'H', labelNames: [], buckets: [1], registers: [registry] }), /already been registered/);
});

test('get() gives the values with their series labels, as prom-client does (for JSON and dashboards)', async () => {
  const registry = new Registry();
  const histogram = new BatchHistogram({ name: 'h', help: 'H', labelNames: ['sink'], buckets: [1], registers: [registry] });
  histogram.labels({ sink: 'x' }).observe(0.5);
  const { values } = await histogram.get();
  assert.deepEqual(
    values.map(({ metricName, labels, value }) => [metricName, labels, value]),
    [
      ['h_bucket', { le: 1, sink: 'x' }, 1],
      ['h_bucket', { le: '+Inf', sink: 'x' }, 1],
      ['h_sum', { sink: 'x' }, 0.5],
      ['h_count', { sink: 'x' }, 1],
    ],
  );
  const [json] = await registry.getMetricsAsJSON();
  assert.equal(json!.name, 'h');
});
