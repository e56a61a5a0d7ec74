import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { defineTopology } from '../../src/topology/define-topology.ts';
import { kafkaTopic } from '../../src/sources/kafka/kafka-source.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import { map } from '../../src/operators/map.ts';
import { BatchingSink } from '../../src/sinks/batching-sink.ts';
import type { SinkSpec } from '../../src/sinks/sink.ts';
import type { StreamRecord } from '../../src/core/batch.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { engineConfig, uniqueName, waitFor } from '../helpers/services.ts';

const EVENTS = 20_000;
const MAX_IN_FLIGHT = 2_000;

interface Event {
  id: number;
  ts: number;
}

/** A sink that takes 150 ms per 500 rows (about 3,300 rows/s), far slower than Kafka delivers. */
class SlowSink extends BatchingSink<StreamRecord<Event>> {
  readonly offsets: string[] = [];
  protected async writeRows(rows: StreamRecord<Event>[]): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 150));
    for (const row of rows) this.offsets.push(row.offset);
  }
}

test('a slow sink bounds in-flight records, stops and restarts fetching, keeps the group membership and loses nothing', { timeout: 120_000 }, async (t) => {
  const topic = uniqueName('backpressure');
  const config = engineConfig({ maxInFlightRecords: MAX_IN_FLIGHT });
  const kafka = createKafkajsClient({ brokers: config.kafkaBrokers!, clientId: 'backpressure-test', logger: silentLogger });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopic(topic, { partitions: 2 });
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < EVENTS; i += 5_000) {
    await producer.send(topic, Array.from({ length: 5_000 }, (_, j) => ({ key: String((i + j) % 17), value: JSON.stringify({ id: i + j, ts: 1_000_000 + i + j }) })));
  }

  let sink: SlowSink | undefined;
  const slowSink: SinkSpec<StreamRecord<Event>> = {
    description: 'slow test sink',
    create: (env) => (sink = new SlowSink({ name: 'slow', topology: env.topology, logger: env.logger, maxRows: 500, maxDelayMs: 10, maxBufferedRows: 1_000 })),
  };
  const topology = defineTopology({
    name: 'backpressure',
    // A 6 s session timeout: one fetched batch waits far longer than that for room, so only the
    // heartbeats sent while waiting keep this member in its group.
    source: kafkaTopic<Event>({ topic, format: 'json', eventTime: (e) => e.ts, consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000 } }),
    pipeline: (events) => ({ events: events.pipe(map((e) => e)) }),
    sinks: { events: [slowSink] },
  });

  const engine = await Engine.start(topology, { config, logger: silentLogger, push: false });
  t.after(async () => {
    await engine.stop();
    await producer.disconnect();
    await admin.disconnect();
  });
  const startedAt = performance.now();
  let maxSeen = 0;
  const sampler = setInterval(() => (maxSeen = Math.max(maxSeen, engine.stats().inFlight)), 2);
  await waitFor('every record in the sink', async () => sink?.offsets.length ?? 0, (n) => n >= EVENTS, 90_000);
  clearInterval(sampler);

  const stats = engine.stats();
  assert.ok(maxSeen <= MAX_IN_FLIGHT, `sampled in-flight ${maxSeen} > ${MAX_IN_FLIGHT}`);
  assert.ok(stats.peakInFlight <= MAX_IN_FLIGHT, `peak in-flight ${stats.peakInFlight} > ${MAX_IN_FLIGHT}`);
  assert.ok(stats.peakInFlight >= MAX_IN_FLIGHT / 2, `the buffer never filled (peak ${stats.peakInFlight}), so backpressure was not exercised`);
  assert.ok(stats.fetchBlocked >= 1, 'fetching never had to stop');
  assert.ok(stats.sinkWaits >= 1, 'processing never waited for the sink');
  // The sink writes ~3,300 rows/s, so 20,000 rows take ~6 s, most of it with processing held
  // back: the wait the metric reports is seconds, and no more than the run took.
  const waited = (await engine.metrics.registry.getSingleMetric('tributary_sink_wait_seconds_total')?.get())?.values[0]?.value ?? 0;
  const elapsed = (performance.now() - startedAt) / 1000;
  assert.ok(waited >= 1 && waited <= elapsed, `tributary_sink_wait_seconds_total ${waited} s, not between 1 s and the run's ${elapsed.toFixed(1)} s`);
  const groupJoins = (engine.activeSource as unknown as { groupJoins: number }).groupJoins;
  assert.equal(groupJoins, 1, 'the consumer rejoined its group (a rebalance happened)');

  // Nothing lost, nothing twice: every (partition-local) offset exactly once per partition.
  assert.equal(sink!.offsets.length, EVENTS);
  const ends = await admin.topicEndOffsets(topic);
  assert.equal(ends.reduce((sum, e) => sum + Number(e.high), 0), EVENTS);
  assert.equal(stats.processedRecords, EVENTS);
  await engine.stop();
  const committed = await admin.committedOffsets(config.groupId!, topic);
  assert.deepEqual(
    committed.map((c) => [c.partition, c.offset]).sort(),
    ends.map((e) => [e.partition, e.high]).sort(),
  );
});
