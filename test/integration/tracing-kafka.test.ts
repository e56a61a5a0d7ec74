import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Engine } from '../../src/runtime/engine.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { CardPaymentModel } from '../../src/sources/generator/card-payments.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { clickhouse, engineConfig, uniqueName } from '../helpers/services.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { waitForCardFraudResults } from '../helpers/fault-run.ts';
import { OtlpCollector, type ReceivedSpan } from '../helpers/otlp-collector.ts';

const PARTITIONS = 3;
const START = Date.UTC(2026, 10, 6, 9, 0, 0);

test('tracing: a record produced with a W3C traceparent yields spans for decode, each window step, scoring and each sink under its trace id, parented stage by stage, exported over OTLP/protobuf to a collector', { timeout: 240_000 }, async (t) => {
  const collector = await OtlpCollector.start();
  t.after(() => collector.close());
  // The engine follows a trace when its lowest 32 trace-id bits fall under the ratio: this one's
  // are 0, so it is followed at a ratio that samples (almost) no batch on its own.
  const traceId = `${randomBytes(12).toString('hex')}00000000`;
  const producerSpanId = randomBytes(8).toString('hex');
  const prefix = `${uniqueName('tr')}_`;
  const config = engineConfig({ tracing: { url: collector.url, protocol: 'http/protobuf', sampleRatio: 1e-6 } });
  const paymentsTopic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS });
  const ch = clickhouse();
  const engine = await Engine.start(createCardFraudTopology({ topic: paymentsTopic.topic, tablePrefix: prefix, statePrefix: `${prefix}:`, channel: 'fraud' }), { config, logger: silentLogger, push: true });
  t.after(async () => {
    await engine.stop().catch(() => {});
    await paymentsTopic.close();
    await ch.close();
  });

  const generator = new CardPaymentModel({ seed: 41, cards: 50, lateShare: 0, fraudRate: 0.01 });
  const payments = Array.from({ length: 1_500 }, (_, i) => generator.next(START + i * 60).payment);
  await paymentsTopic.send(payments.slice(0, 100));
  const traced = payments[100]!;
  await paymentsTopic.producer.send(paymentsTopic.topic, [{ key: traced.cardId, value: paymentsTopic.encode(traced), headers: { traceparent: `00-${traceId}-${producerSpanId}-01` } }]);
  await paymentsTopic.send(payments.slice(101));
  await paymentsTopic.sendWatermarkEvents(payments);
  await waitForCardFraudResults(ch, prefix, payments, PARTITIONS, 120_000);
  await engine.stop(); // exports the spans still buffered

  const spans = collector.inTrace(traceId);
  const counts = new Map<string, number>();
  for (const span of spans) counts.set(span.name, (counts.get(span.name) ?? 0) + 1);
  console.log(`[tracing] spans in the record's trace: ${JSON.stringify(Object.fromEntries(counts))}`);
  const named = (name: string) => spans.filter((span) => span.name === name);
  const describe = () => JSON.stringify(spans.map(({ name, spanId, parentSpanId }) => ({ name, spanId, parentSpanId })));
  const [decode, ...moreDecodes] = named('decode');
  assert.ok(decode, `a decode span in the trace: ${describe()}`);
  assert.deepEqual(moreDecodes, [], 'one record, one decode span');
  assert.equal(decode.parentSpanId, producerSpanId, "decode continues the producer's span");
  assert.deepEqual(decode.links, [{ traceId, spanId: producerSpanId }], "linked to the record's trace");

  const windows = [...named('window card-1m'), ...named('window card-5m')];
  assert.deepEqual(windows.map((w) => w.name).sort(), ['window card-1m', 'window card-5m'], 'one span per windowed step for the batch that added the record');
  for (const window of windows) assert.equal(window.parentSpanId, decode.spanId, `${window.name} is a child of decode`);
  const windowIds = new Set(windows.map((w) => w.spanId));

  // The record's 1-minute window and its five 5-minute windows close in later batches: each
  // scoring of them is a child of the window step that holds the record. The record's own batch
  // may also close older windows (its event time moves the watermark): that scoring descends from
  // decode, which caused it (how the batches fall depends on fetch timing).
  const scores = named('score fraud-score');
  assert.ok(scores.some((score) => windowIds.has(score.parentSpanId)), `the record's windows are scored under their window span: ${describe()}`);
  for (const score of scores) assert.ok(windowIds.has(score.parentSpanId) || score.parentSpanId === decode.spanId, `score is a child of a window span or of decode: ${describe()}`);
  const scoreIds = new Set(scores.map((s) => s.spanId));

  const parentsOf = (name: string) => named(name).map((span: ReceivedSpan) => span.parentSpanId);
  assert.deepEqual(parentsOf(`sink clickhouse:${prefix}payments`), [decode.spanId], 'the raw-event write descends from decode');
  // A feature write's span has its first traced batch as parent and every one as a link: when the
  // record's batch also closed older windows, and their rows share an insert with the record's
  // windows, that parent is decode and the window spans are links.
  const linkedTo = (span: ReceivedSpan, ids: Set<string>) => ids.has(span.parentSpanId) || span.links.some((link) => ids.has(link.spanId));
  for (const sink of [`sink clickhouse:${prefix}card_features`, `sink state:${prefix}:features:card-features:v1:`]) {
    const parents = parentsOf(sink);
    assert.ok(parents.length >= 1 && parents.every((id) => windowIds.has(id) || id === decode.spanId), `${sink} is a child of a window span or of decode: ${describe()}`);
    assert.ok(named(sink).some((span) => linkedTo(span, windowIds)), `${sink} carries the record's window spans: ${describe()}`);
  }
  for (const sink of [`sink clickhouse:${prefix}fraud_predictions`, `sink state:${prefix}:prediction:card:`, 'sink ws:fraud']) {
    const parents = parentsOf(sink);
    assert.ok(parents.length >= 1 && parents.every((id) => scoreIds.has(id)), `${sink} descends from a score span: ${describe()}`);
  }
  assert.ok((collector.requests.get('application/x-protobuf') ?? 0) >= 1, 'exported as OTLP/protobuf');
  // Batches without the record were not traced (the ratio samples about one in a million on its own).
  assert.equal(collector.spans.filter((span) => span.traceId !== traceId).length, 0);
});
