import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, ConnectionError } from '../../../src/core/errors.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import type { BatchConsumer, FetchedBatch, FetchProgress, KafkaClient, KafkaMessage } from '../../../src/kafka/kafka-client.ts';
import { kafkaTable } from '../../../src/tables/kafka-table.ts';
import { lookupTable } from '../../../src/tables/lookup-table.ts';
import type { TableEnvironment } from '../../../src/tables/table-source.ts';
import { startTables } from '../../../src/runtime/tables.ts';
import { defineTopology } from '../../../src/topology/define-topology.ts';
import { kafkaTopic } from '../../../src/sources/kafka/kafka-source.ts';

interface Merchant {
  id: string;
  tier: string;
}

const TOPIC = 'merchants';

const message = (offset: number, key: string, value: Merchant | null | string): KafkaMessage => ({
  offset: String(offset),
  key: Buffer.from(key),
  value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  timestamp: String(Date.now()),
});

/**
 * A KafkaClient over in-memory partitions: `deliver` hands a fetch to the handler, then reports
 * progress the way kafkajs does; what a test does not deliver never arrives.
 */
function fakeKafka(ends: Array<{ partition: number; low: string; high: string }> | Error) {
  const state = { groupIds: [] as string[], fromBeginning: [] as boolean[], commits: 0, disconnected: 0, handler: null as null | ((batch: FetchedBatch) => Promise<unknown>) };
  const progress: Array<(p: FetchProgress) => void> = [];
  const consumer = (groupId: string): BatchConsumer => {
    state.groupIds.push(groupId);
    return {
      connect: async () => {},
      subscribe: async (_topic, options) => void state.fromBeginning.push(options.fromBeginning),
      run: async (handler) => void (state.handler = (batch) => handler(batch, { heartbeat: async () => {}, isRunning: () => true, isStale: () => false })),
      commit: async () => void state.commits++,
      pause: () => {},
      seek: () => {},
      onAssignment: () => {},
      onProgress: (listener) => progress.push(listener),
      groupJoins: 1,
      disconnect: async () => void state.disconnected++,
    };
  };
  const client: KafkaClient = {
    consumer: (options) => consumer(options.groupId),
    producer: () => ({}) as never,
    admin: () => ({
      connect: async () => {},
      createTopic: async () => {},
      topicEndOffsets: async () => {
        if (ends instanceof Error) throw ends;
        return ends;
      },
      committedOffsets: async () => [],
      setCommittedOffsets: async () => {},
      partitionCount: async () => 1,
      disconnect: async () => {},
    }),
  };
  const deliver = async (partition: number, messages: KafkaMessage[], nextOffset?: number) => {
    while (!state.handler) await sleep(1);
    if (messages.length > 0) await state.handler({ topic: TOPIC, partition, messages });
    const next = nextOffset ?? Number(messages.at(-1)!.offset) + 1;
    for (const listener of progress) listener({ topic: TOPIC, partition, nextOffset: String(next) });
  };
  return { client, state, deliver };
}

function environment(metrics = new Metrics()): TableEnvironment {
  return { topology: 'shop', logger: silentLogger, metrics, schemasDir: path.resolve('schemas'), kafkaBrokers: ['127.0.0.1:9'], groupId: 'tributary-shop' };
}

function topologyWith(tables: unknown[]) {
  return defineTopology({ name: 'shop', source: kafkaTopic<{ ts: number }>({ topic: 'events', format: 'json', eventTime: (e) => e.ts }), pipeline: () => ({}), sinks: {}, tables: tables as never });
}

test('start resolves only once the table holds everything up to the end offsets at start, then follows updates', async () => {
  const kafka = fakeKafka([
    { partition: 0, low: '0', high: '3' },
    { partition: 1, low: '0', high: '4' }, // its last offset is a transaction marker the reader never sees
  ]);
  const metrics = new Metrics();
  const merchants = kafkaTable<Merchant>({ name: 'merchants', topic: TOPIC, format: 'json', client: () => kafka.client });
  let started = false;
  const starting = startTables(topologyWith([merchants]), environment(metrics)).then((running) => {
    started = true;
    return running;
  });
  await kafka.deliver(0, [message(0, 'm1', { id: 'm1', tier: 'low' }), message(1, 'm2', { id: 'm2', tier: 'low' })]);
  await kafka.deliver(1, [message(0, 'm3', { id: 'm3', tier: 'high' }), message(1, 'm4', '{broken'), message(2, 'm3', null)], 4);
  await sleep(20);
  assert.equal(started, false, 'partition 0 has not reached offset 3 yet');
  await kafka.deliver(0, [message(2, 'm1', { id: 'm1', tier: 'high' })]);
  const running = await starting;
  assert.deepEqual(merchants.get('m1'), { id: 'm1', tier: 'high' }, 'the latest offset won');
  assert.deepEqual(merchants.get('m2'), { id: 'm2', tier: 'low' });
  assert.equal(merchants.get('m3'), undefined, 'deleted by its tombstone');
  assert.equal(merchants.get('m4'), undefined, 'undecodable: skipped');

  // Live: later records keep updating the table.
  await kafka.deliver(0, [message(3, 'm2', { id: 'm2', tier: 'medium' })]);
  assert.deepEqual(merchants.get('m2'), { id: 'm2', tier: 'medium' });

  // The reader: its own group per process, derived from the topology's; whole topic; no commits.
  assert.equal(kafka.state.groupIds.length, 1);
  assert.match(kafka.state.groupIds[0]!, /^tributary-shop\.table\.merchants\.[0-9a-f]{12}$/);
  assert.deepEqual(kafka.state.fromBeginning, [true]);
  assert.equal(kafka.state.commits, 0);

  const text = await metrics.registry.metrics();
  assert.match(text, /tributary_table_updates_total\{topology="shop",table="merchants"\} 5/);
  assert.match(text, /tributary_table_deletes_total\{topology="shop",table="merchants"\} 1/);
  assert.match(text, /tributary_table_invalid_records_total\{topology="shop",table="merchants"\} 1/);
  assert.match(text, /tributary_table_entries\{topology="shop",table="merchants"\} 2/);
  await running.close();
  assert.equal(kafka.state.disconnected, 1);
  assert.doesNotMatch(await metrics.registry.metrics(), /tributary_table_entries\{/, 'a closed table is no longer reported');
});

test('an empty topic is caught up at once; a restart clears the table and reads the topic again', async () => {
  const kafka = fakeKafka([{ partition: 0, low: '0', high: '0' }]);
  const merchants = kafkaTable<Merchant>({ name: 'merchants', topic: TOPIC, format: 'json', client: () => kafka.client });
  merchants.apply('stale', { id: 'stale', tier: 'low' });
  const topology = topologyWith([merchants]);
  const running = await startTables(topology, environment());
  assert.equal(merchants.size, 0);
  await assert.rejects(startTables(topology, environment()), (error: ConfigError) => error.field === 'tables.merchants' && /already filled/.test(error.message));
  await running.close();
  await (await startTables(topology, environment())).close();
});

test('a reader that makes no progress while catching up fails the start, naming the partitions behind', async () => {
  const kafka = fakeKafka([{ partition: 0, low: '0', high: '10' }]);
  const merchants = kafkaTable<Merchant>({ name: 'merchants', topic: TOPIC, format: 'json', catchUpStallTimeout: '200ms', client: () => kafka.client });
  const other = kafkaTable<Merchant>({ name: 'other', topic: TOPIC, format: 'json', client: () => fakeKafka([{ partition: 0, low: '0', high: '0' }]).client });
  await assert.rejects(startTables(topologyWith([other, merchants]), environment()), (error: ConnectionError) => {
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.retriable, true);
    assert.match(error.message, /table merchants: no progress reading topic "merchants" for 200 ms while catching up \(partition 0 at 0 of 10\)/);
    return true;
  });
  assert.equal(kafka.state.disconnected, 1);
  // The table that did start was closed again, so it can start once more.
  await (await startTables(topologyWith([other]), environment())).close();
});

test('a missing topic, a missing broker and bad options are configuration errors naming the field', async () => {
  const missing = fakeKafka(new Error('This server does not host this topic-partition'));
  const merchants = kafkaTable<Merchant>({ name: 'merchants', topic: 'nope', format: 'json', client: () => missing.client });
  await assert.rejects(startTables(topologyWith([merchants]), environment()), (error: ConfigError) => error.field === 'tables.merchants.topic' && /cleanup\.policy=compact/.test(error.message));
  await assert.rejects(startTables(topologyWith([merchants]), { ...environment(), kafkaBrokers: undefined }), (error: ConfigError) => error.field === 'KAFKA_BROKERS');
  const field = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      return (error as ConfigError).field;
    }
    return 'no error';
  };
  assert.equal(field(() => kafkaTable({ name: 'm', topic: '', format: 'json' })), 'tables.m.topic');
  assert.equal(field(() => kafkaTable({ name: 'm', topic: 't', format: 'xml' as never })), 'tables.m.format');
  assert.equal(field(() => kafkaTable({ name: 'm', topic: 't', format: 'avro' })), 'tables.m.schema');
  assert.equal(field(() => kafkaTable({ name: 'm', topic: 't', format: 'json', key: 'id' as never })), 'tables.m.key');
  assert.equal(field(() => topologyWith([{ name: 'm' }])), 'tables[0]');
  assert.equal(field(() => topologyWith([lookupTable({ name: 'm' }), lookupTable({ name: 'm' })])), 'tables[1]');
  assert.equal(field(() => topologyWith('merchants' as never)), 'tables');
  // In-memory tables have no source: nothing to start, and their rows stay.
  const memory = lookupTable<Merchant>({ name: 'memory' });
  memory.apply('m1', { id: 'm1', tier: 'low' });
  await (await startTables(topologyWith([memory]), environment())).close();
  assert.equal(memory.size, 1);
});
