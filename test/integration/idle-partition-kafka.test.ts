import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { defineTopology } from '../../src/topology/define-topology.ts';
import { kafkaTopic } from '../../src/sources/kafka/kafka-source.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import { keyBy } from '../../src/operators/key-by.ts';
import { tumbling } from '../../src/operators/windows/tumbling.ts';
import { aggregate } from '../../src/operators/windows/aggregate.ts';
import { count } from '../../src/operators/windows/aggregations.ts';
import type { Sink, SinkSpec } from '../../src/sinks/sink.ts';
import type { KafkaClient } from '../../src/kafka/kafka-client.ts';
import type { LateRecord, StreamRecord } from '../../src/core/batch.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { engineConfig, uniqueName, waitFor } from '../helpers/services.ts';

interface Event {
  k: string;
  ts: number;
}

interface Row {
  key: string;
  windowStart: number;
  /** Final emission only (no allowed lateness): always 0. */
  revision: number;
  windowEnd: number;
  n: number;
}

const WINDOW_MS = 10_000;
const OUT_OF_ORDERNESS_MS = 1_000;
const BASE = Date.UTC(2026, 0, 1); // a multiple of 10 s: windows start at BASE

/** Collects what it is given; acknowledges at once (it retains no ack token). */
class CollectingSink<T> implements Sink<T> {
  readonly rows: T[] = [];
  constructor(readonly name: string) {}
  async open(): Promise<void> {}
  write(rows: readonly T[]): void {
    this.rows.push(...rows);
  }
  isFull(): boolean {
    return false;
  }
  async whenReady(): Promise<void> {}
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Counts per key and epoch-aligned 10 s window, for the windows that end at or before `watermark`. */
function referenceCounts(events: readonly Event[], watermark: number): Row[] {
  const counts = new Map<string, Row>();
  for (const e of events) {
    const windowStart = Math.floor(e.ts / WINDOW_MS) * WINDOW_MS;
    if (windowStart + WINDOW_MS > watermark) continue;
    const id = `${e.k}@${windowStart}`;
    const row = counts.get(id) ?? { key: e.k, windowStart, windowEnd: windowStart + WINDOW_MS, revision: 0, n: 0 };
    row.n++;
    counts.set(id, row);
  }
  return sortRows([...counts.values()]);
}

function sortRows(rows: Row[]): Row[] {
  return [...rows].sort((a, b) => a.windowEnd - b.windowEnd || a.key.localeCompare(b.key));
}

/** A fresh two-partition topic on the test broker, with a producer that sends events to one partition. */
async function twoPartitionTopic(name: string, brokers: string[]) {
  const topic = uniqueName(name);
  const kafka = createKafkajsClient({ brokers, clientId: `${name}-test`, logger: silentLogger });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopic(topic, { partitions: 2 });
  const producer = kafka.producer();
  await producer.connect();
  const send = (partition: number, events: Event[]) => producer.send(topic, events.map((e) => ({ key: e.k, value: JSON.stringify(e), partition })));
  const close = async () => {
    await producer.disconnect();
    await admin.disconnect();
  };
  return { topic, send, close };
}

test('an idle partition stops holding the watermark; when it delivers again its old records are late and new ones count', { timeout: 120_000 }, async (t) => {
  const config = engineConfig();
  const { topic, send, close } = await twoPartitionTopic('idle_partition', config.kafkaBrokers!);

  // Partition 0 only, in event-time order: 0 s .. 35.4 s after BASE, three keys.
  const keys = ['a', 'b', 'c'];
  const first: Event[] = Array.from({ length: 60 }, (_, i) => ({ k: keys[(i * 7 + (i >> 2)) % 3]!, ts: BASE + i * 600 }));
  await send(0, first);

  let output: CollectingSink<StreamRecord<Row>> | undefined;
  let late: CollectingSink<LateRecord> | undefined;
  const outputSpec: SinkSpec<StreamRecord<Row>> = { description: 'collecting test sink', create: () => (output = new CollectingSink('counts')) };
  const lateSpec: SinkSpec<LateRecord> = { description: 'collecting late sink', create: () => (late = new CollectingSink('late')) };
  const topology = defineTopology({
    name: 'idle-partition',
    source: kafkaTopic<Event>({ topic, format: 'json', eventTime: (e) => e.ts, outOfOrderness: OUT_OF_ORDERNESS_MS, idleTimeout: '2s' }),
    pipeline: (events) => ({ counts: events.pipe(keyBy((e) => e.k), tumbling<Event>('10s'), aggregate({ n: count() }, { name: 'count-10s' })) }),
    sinks: { counts: [outputSpec] },
    late: lateSpec,
  });
  const engine = await Engine.start(topology, { config, logger: silentLogger, push: false });
  t.after(async () => {
    await engine.stop();
    await close();
  });
  const rows = () => sortRows(output!.rows.map((r) => r.value));

  // 1. Partition 0's task closes the windows ending at 10, 20 and 30 s on its own watermark
  //    (35.4 s - 1 s). Partition 1 never delivers; 2 s after the assignment it is idle, partition 0
  //    alone sets the topology watermark, and the idle partition follows it.
  const watermark1 = BASE + 35_400 - OUT_OF_ORDERNESS_MS;
  const expected1 = referenceCounts(first, watermark1);
  assert.equal(expected1.length > 0 && expected1.every((r) => r.windowEnd <= BASE + 30_000), true);
  await waitFor('the first three windows to close', async () => output!.rows.length, (n) => n >= expected1.length, 60_000);
  assert.deepEqual(rows(), expected1);
  assert.deepEqual(late!.rows, []);
  const idleGauge = async () => (await engine.metrics.idlePartitions.get()).values[0]?.value;
  assert.ok((await waitFor('the idle-partition gauge', idleGauge, (v) => (v ?? 0) >= 1, 10_000))! >= 1);
  await waitFor('the topology watermark without the idle partition', async () => engine.stats().watermark, (w) => w === watermark1, 10_000);

  // 2. Partition 1 delivers a record of the closed window [0 s, 10 s): it rejoins, the record is late.
  const old: Event = { k: 'a', ts: BASE + 5_000 };
  await send(1, [old]);
  await waitFor('the late record', async () => late!.rows.length, (n) => n >= 1, 30_000);
  assert.deepEqual(late!.rows, [{ step: 'count-10s', key: 'a', eventTime: old.ts, watermark: watermark1, topic, partition: 1, offset: '0', value: old }]);
  assert.deepEqual(rows(), expected1, 'no window reopened');
  assert.equal(engine.stats().watermark, watermark1, 'the rejoined partition did not move the watermark back');

  // 3. Fresh records on partition 1 count normally and close its window ending at 50 s on its own
  //    watermark (52 s - 1 s); once partition 0 is idle, partition 1 alone sets the topology
  //    watermark, which idle partition 0 follows: its window ending at 40 s closes too.
  const fresh: Event[] = [{ k: 'b', ts: BASE + 45_000 }, { k: 'c', ts: BASE + 52_000 }];
  await send(1, fresh);
  const watermark3 = BASE + 52_000 - OUT_OF_ORDERNESS_MS;
  const expected3 = referenceCounts([...first, ...fresh], watermark3);
  assert.equal(expected3.some((r) => r.key === 'b' && r.windowEnd === BASE + 50_000 && r.n === 1), true, 'the fresh record has a window in the reference');
  await waitFor('the watermark from partition 1', async () => engine.stats().watermark, (w) => w === watermark3, 30_000);
  await waitFor('the windows ending at 40 and 50 s', async () => output!.rows.length, (n) => n >= expected3.length, 30_000);
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // a few more idleness ticks: nothing else closes
  assert.deepEqual(rows(), expected3);
  assert.equal(late!.rows.length, 1, 'only the old record was late');
});

/**
 * The real kafkajs client, except that while `stalled` its fetched batches of partition 0 are
 * handed back unhandled (kafkajs fetches them again): partition 0 delivers nothing though its
 * records are in Kafka, as while its leader fails over to another broker.
 */
function stallingClient(brokers: string[], stalled: () => boolean): KafkaClient {
  const client = createKafkajsClient({ brokers, clientId: 'stalling-partition-test', logger: silentLogger });
  return {
    ...client,
    consumer: (options) => {
      const consumer = client.consumer(options);
      return {
        ...consumer,
        run: (handler) =>
          consumer.run(async (batch, control) => {
            if (batch.partition !== 0 || !stalled()) return handler(batch, control);
            await new Promise((resolve) => setTimeout(resolve, 50));
            return null;
          }),
        get groupJoins() {
          return consumer.groupJoins;
        },
      };
    },
  };
}

test('a partition whose records are in Kafka but cannot be fetched (a leader failing over) is behind, not idle: it holds the watermark and none of its records is late', { timeout: 120_000 }, async (t) => {
  const config = engineConfig();
  const { topic, send, close } = await twoPartitionTopic('behind_partition', config.kafkaBrokers!);
  /** Events of both partitions from `from` ms after BASE, 500 ms apart. */
  const events = (partition: number, from: number, n: number): Event[] => Array.from({ length: n }, (_, i) => ({ k: `${partition}-${i % 3}`, ts: BASE + from + i * 500 }));

  let stalled = false;
  let output: CollectingSink<StreamRecord<Row>> | undefined;
  let late: CollectingSink<LateRecord> | undefined;
  const topology = defineTopology({
    name: 'behind-partition',
    source: kafkaTopic<Event>({ topic, format: 'json', eventTime: (e) => e.ts, outOfOrderness: OUT_OF_ORDERNESS_MS, idleTimeout: '2s', client: (brokers) => stallingClient(brokers, () => stalled) }),
    pipeline: (records) => ({ counts: records.pipe(keyBy((e) => e.k), tumbling<Event>('10s'), aggregate({ n: count() }, { name: 'count-10s' })) }),
    sinks: { counts: [{ description: 'collecting test sink', create: () => (output = new CollectingSink('counts')) }] },
    late: { description: 'collecting late sink', create: () => (late = new CollectingSink('late')) },
  });
  const engine = await Engine.start(topology, { config, logger: silentLogger, push: false });
  t.after(async () => {
    await engine.stop();
    await close();
  });

  // 1. Both partitions deliver their first 20 s.
  const first = [...events(0, 0, 40), ...events(1, 0, 40)];
  await send(0, first.slice(0, 40));
  await send(1, first.slice(40));
  await waitFor('the first window of both partitions', async () => output?.rows.length ?? 0, (n) => n >= 6, 60_000);

  // 2. Partition 0 stalls with its next records in Kafka, for three idle timeouts, while partition 1
  //    runs a minute ahead. Partition 0 is behind, not idle: the watermark waits for it.
  stalled = true;
  const rest = [...events(0, 20_000, 120), ...events(1, 20_000, 120)];
  await send(0, rest.slice(0, 120));
  await send(1, rest.slice(120));
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  // (Partition 1, silent after its minute, may count idle meanwhile; partition 0 must not.)
  assert.deepEqual(late!.rows, [], 'nothing late while partition 0 was behind');
  assert.ok(engine.stats().watermark <= BASE + 20_000, `the watermark waited for partition 0 (at ${engine.stats().watermark - BASE} ms)`);

  // 3. Partition 0 delivers again; one event per partition past the end closes every window.
  stalled = false;
  const closing = [{ k: 'z', ts: BASE + 200_000 }];
  await send(0, closing);
  await send(1, closing);
  const all = [...first, ...rest];
  const expected = referenceCounts(all, BASE + 200_000 - OUT_OF_ORDERNESS_MS);
  await waitFor('every window', async () => output!.rows.length, (n) => n >= expected.length, 60_000);
  assert.deepEqual(late!.rows, [], 'no record was late');
  assert.deepEqual(sortRows(output!.rows.map((r) => r.value)), expected);
});
