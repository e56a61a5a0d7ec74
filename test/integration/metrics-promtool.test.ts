import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Engine } from '../../src/runtime/engine.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { referenceCardFeatures } from '../helpers/fraud-reference.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { engineConfig, uniqueName, waitFor } from '../helpers/services.ts';

const PARTITIONS = 2;
const EVENTS = 3_000;
const GARBAGE = 3;
const LATE = 4;
const START = Date.UTC(2026, 10, 3, 12, 0, 0);

/** One scrape: every sample by metric name, with its labels. */
type Sample = { labels: Record<string, string>; value: number };
type Scrape = Map<string, Sample[]>;

function parseExposition(text: string): Scrape {
  const samples: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name!] = value!;
    const list = samples.get(match[1]!) ?? [];
    list.push({ labels, value: Number(match[3]) });
    samples.set(match[1]!, list);
  }
  return samples;
}

/** The sum of `name` over the samples whose labels include `labels` (0 when none). */
function value(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const sample of scrape.get(name) ?? []) if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) total += sample.value;
  return total;
}

/** Runs `promtool check metrics` on the text; resolves with its exit code and output. */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => reject(new Error(`promtool is not installed (${error.message}); run \`TRIBUTARY_NEED_PROMTOOL=1 bash scripts/services.sh start\` (Debian package prometheus)`)));
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

test('/metrics of an engine on real Kafka and ClickHouse passes promtool, and its counters move exactly with the events', { timeout: 240_000 }, async (t) => {
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig();
  const topic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS, name: 'payments_metrics' });
  const metrics = new Metrics({ defaultMetrics: true }); // what `tributary run` exports, process metrics included
  const engine = await Engine.start(createCardFraudTopology({ topic: topic.topic, tablePrefix: prefix }), { config, logger: silentLogger, metrics, push: true });
  t.after(async () => {
    await engine.stop();
    await topic.close();
  });
  const base = `http://127.0.0.1:${engine.environment.pushServer!.port}`;
  const scrape = async (): Promise<{ text: string; samples: Scrape }> => {
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    return { text, samples: parseExposition(text) };
  };
  const passesPromtool = async (text: string, when: string) => {
    const { code, output } = await promtoolCheck(text);
    assert.equal(code, 0, `promtool check metrics (${when}) failed:\n${output}`);
    assert.equal(output.trim(), '', `promtool check metrics (${when}) complained`);
  };
  const topology = { topology: 'card-fraud' };
  const sink = (table: string) => ({ ...topology, sink: `clickhouse:${prefix}${table}` });

  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  const before = await scrape();
  await passesPromtool(before.text, 'at start');

  // Phase 1: payments over five minutes of event time, a few undecodable records, then one event
  // per partition six minutes later, which closes every window of the payments.
  const generator = new CardPaymentModel({ seed: 11, cards: 200, lateShare: 0, fraudRate: 0.01 });
  const payments: Payment[] = Array.from({ length: EVENTS }, (_, i) => generator.next(START + i * 100).payment);
  const maxTs = Math.max(...payments.map((p) => p.ts));
  const windows = referenceCardFeatures(payments).length;
  await topic.send(payments);
  await topic.producer.send(topic.topic, Array.from({ length: GARBAGE }, () => ({ value: Buffer.from([0xde, 0xad, 0xbe, 0xef]), partition: 0 })));
  await waitFor('payments processed', async () => engine.stats().processedRecords, (n) => n >= EVENTS, 60_000);
  await topic.sendWatermarkEvents(payments, 6 * 60_000);

  const raw = EVENTS + PARTITIONS;
  const settled = (s: Scrape) =>
    value(s, 'tributary_sink_rows_total', sink('payments')) >= raw &&
    value(s, 'tributary_sink_rows_total', sink('card_features')) >= windows &&
    value(s, 'tributary_sink_rows_total', sink('fraud_predictions')) >= windows &&
    value(s, 'tributary_sink_rows_total', sink('dead_letters')) >= GARBAGE &&
    value(s, 'tributary_consumer_lag_records', topology) === 0;
  await waitFor('every row acknowledged by its sink', async () => (await scrape()).samples, settled, 120_000);
  const after = await scrape();
  await passesPromtool(after.text, 'after events');
  const moved = (name: string, labels: Record<string, string> = {}) => value(after.samples, name, labels) - value(before.samples, name, labels);

  // Source, decoding and dead letters.
  assert.equal(moved('tributary_records_in_total', topology), raw + GARBAGE);
  assert.equal(moved('tributary_records_decoded_total', topology), raw);
  assert.equal(moved('tributary_dead_letters_total', { ...topology, step: 'decode' }), GARBAGE);
  assert.equal(value(after.samples, 'tributary_in_flight_records', topology), 0);
  // Outputs and the score step: one row per closed window, all scored (the circuit stayed closed).
  assert.equal(moved('tributary_output_records_total', { ...topology, output: 'raw' }), raw);
  assert.equal(moved('tributary_output_records_total', { ...topology, output: 'features' }), windows);
  assert.equal(moved('tributary_output_records_total', { ...topology, output: 'predictions' }), windows);
  assert.equal(moved('tributary_step_records_in_total', { ...topology, step: 'fraud-score' }), windows);
  assert.equal(moved('tributary_step_records_out_total', { ...topology, step: 'fraud-score' }), windows);
  assert.equal(moved('tributary_scored_rows_total', { ...topology, model: 'fraud-lr' }), windows);
  assert.equal(moved('tributary_scoring_batch_rows_sum', { ...topology, model: 'fraud-lr' }), windows);
  assert.ok(moved('tributary_scoring_seconds_count', { ...topology, model: 'fraud-lr' }) >= 1);
  const [model] = after.samples.get('tributary_model_info') ?? [];
  assert.equal(model?.value, 1);
  assert.equal(model.labels.step, 'fraud-score');
  assert.equal(model.labels.model, 'fraud-lr');
  assert.match(model.labels.version!, /^[0-9a-f]{12}$/);
  // Sinks: exact rows, every row once in the batch sizes and the end-to-end latency.
  for (const [table, rows] of [['payments', raw], ['card_features', windows], ['fraud_predictions', windows]] as const) {
    assert.equal(moved('tributary_sink_rows_total', sink(table)), rows, table);
    assert.equal(moved('tributary_sink_batch_rows_sum', sink(table)), rows, table);
    assert.equal(moved('tributary_end_to_end_latency_seconds_count', sink(table)), rows, table);
    assert.equal(value(after.samples, 'tributary_sink_buffered_rows', sink(table)), 0, table);
  }
  assert.equal(moved('tributary_sink_rows_total', sink('dead_letters')), GARBAGE);
  // Kafka: caught up on every partition, none paused; the high watermarks add up to what was produced.
  const lag = after.samples.get('tributary_consumer_lag_records') ?? [];
  assert.deepEqual(lag.map((s) => [s.labels.topic, s.labels.partition, s.value]).sort(), [[topic.topic, '0', 0], [topic.topic, '1', 0]]);
  assert.equal(value(after.samples, 'tributary_partition_end_offset', topology), raw + GARBAGE);
  assert.deepEqual((after.samples.get('tributary_partition_paused') ?? []).map((s) => s.value), [0, 0]);
  // Event time: the watermark trails the watermark events by the 5 s out-of-orderness.
  const watermark = maxTs + 6 * 60_000 - 5_000;
  assert.equal(value(after.samples, 'tributary_watermark_timestamp_seconds', topology), watermark / 1000);
  const lagSeconds = value(after.samples, 'tributary_watermark_lag_seconds', topology);
  assert.ok(Math.abs(lagSeconds - (Date.now() - watermark) / 1000) < 30, `watermark lag ${lagSeconds}`);
  const freshness = value(after.samples, 'tributary_output_freshness_seconds', { ...topology, output: 'raw' });
  assert.ok(Math.abs(freshness - (Date.now() - (maxTs + 6 * 60_000)) / 1000) < 30, `raw freshness ${freshness}`);

  // Phase 2: payments ten minutes behind the watermark, late for both window steps.
  const late = payments.slice(0, LATE).map((p, i): Payment => ({ ...p, paymentId: `late-${i}`, ts: maxTs - 10 * 60_000 }));
  await topic.producer.send(topic.topic, late.map((p) => ({ key: p.cardId, value: topic.encode(p) })));
  await waitFor('late records stored', async () => (await scrape()).samples, (s) => value(s, 'tributary_sink_rows_total', sink('late_records')) - value(after.samples, 'tributary_sink_rows_total', sink('late_records')) >= 2 * LATE, 60_000);
  const last = await scrape();
  await passesPromtool(last.text, 'after late records');
  const movedSince = (name: string, labels: Record<string, string>) => value(last.samples, name, labels) - value(after.samples, name, labels);
  assert.equal(movedSince('tributary_late_records_total', { ...topology, step: 'card-1m' }), LATE);
  assert.equal(movedSince('tributary_late_records_total', { ...topology, step: 'card-5m' }), LATE);
  assert.equal(movedSince('tributary_sink_rows_total', sink('late_records')), 2 * LATE);
  assert.equal(movedSince('tributary_records_in_total', topology), LATE);
  assert.equal(movedSince('tributary_output_records_total', { ...topology, output: 'raw' }), LATE);
});
