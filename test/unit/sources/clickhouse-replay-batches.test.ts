import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamRecord } from '../../../src/core/batch.ts';
import { PartitionTask } from '../../../src/runtime/partition-task.ts';
import type { SinkSet } from '../../../src/runtime/sink-set.ts';
import { StateRegistry } from '../../../src/core/step-state.ts';
import { ReplayBatcher } from '../../../src/sources/clickhouse-replay/replay-batches.ts';
import type { ReplayRow } from '../../../src/sources/clickhouse-replay/replay-plan.ts';
import type { SourceBatch } from '../../../src/sources/source.ts';
import { defineTopology } from '../../../src/topology/define-topology.ts';
import { generatorSource } from '../../../src/sources/generator/generator-source.ts';

interface Event {
  id: number;
  ts: number;
}

/**
 * The engine's own partition task (runtime/partition-task.ts) processes the batches, as the batch
 * router does with in-memory window state (a backfill's): every record, whatever its offset.
 */
function engineTask(): PartitionTask {
  const topology = defineTopology({
    name: 'replay-test',
    source: generatorSource<Event>({ events: () => ({ next: (ts) => ({ id: 0, ts }) }), eventTime: (e) => e.ts, eventsPerSecond: 1 }),
    pipeline: (input) => ({ out: input }),
    sinks: {},
  });
  const sinks = { connect: () => ({ done: Promise.resolve(), close() {} }) } as unknown as SinkSet;
  return new PartitionTask({ partition: 'replay:t', topology, registry: new StateRegistry({ durable: false }), sinks, onError: (error) => assert.fail(String(error)) });
}

function processed(batches: SourceBatch<Event>[]): StreamRecord<unknown>[] {
  const task = engineTask();
  const seen: StreamRecord<unknown>[] = [];
  for (const batch of batches) {
    const records = batch.records;
    task.process(records, batch.deadLetters, batch.maxEventTime - 5_000, [batch.token], batch.token.lastOffset);
    seen.push(...records);
  }
  return seen;
}

function rows(offsets: Array<[partition: number, offset: number]>): ReplayRow[] {
  return offsets.map(([partition, offset], id) => ({ value: { id, ts: 1_000 + id }, time: 1_000 + id, source: { topic: 'payments', partition, offset: offset < 0 ? '' : String(offset) } }));
}

function batchAll(input: ReplayRow[], chunk: number, pageSize = 50): SourceBatch<Event>[] {
  const batcher = new ReplayBatcher<Event>({ partitionKey: 'replay:t', chunk, eventTime: (e) => e.ts });
  const batches: SourceBatch<Event>[] = [];
  for (let i = 0; i < input.length; i += pageSize) batches.push(...batcher.add(input.slice(i, i + pageSize)));
  return batches.concat(batcher.flush());
}

test('records keep their Kafka provenance and the engine processes every one of them', () => {
  // Partitions interleaved in time order: two busy ones, a quiet one whose offsets stay below the
  // batch count (every 50th record, from offset 0: record 400 would start batch 25 with offset
  // 8), and a derived record.
  const offsets: Array<[number, number]> = [];
  for (let i = 0; i < 600; i++) offsets.push(i % 50 === 0 ? [2, i / 50] : [i % 2, 1_000 + i]);
  offsets[7] = [1, -1];
  const input = rows(offsets);
  const batches = batchAll(input, 16);
  assert.ok(batches.length > 30);
  assert.ok(batches.every((b) => b.records.length <= 16));
  const seen = processed(batches);
  assert.equal(seen.length, 600, 'no record skipped by the partition task');
  assert.deepEqual(seen.map((r) => (r.value as Event).id), input.map((r) => r.value.id));
  assert.deepEqual(seen.map((r) => [r.topic, r.partition, r.offset]), input.map((r) => [r.source!.topic, r.source!.partition, r.source!.offset]));
  assert.deepEqual(seen.map((r) => r.eventTime), input.map((r) => r.time));
});

test('tokens count batches from 0 in one partition key; maxEventTime is the batch maximum', () => {
  const batches = batchAll(rows(Array.from({ length: 100 }, (_, i) => [0, 500 + i])), 10);
  assert.deepEqual(batches.map((b) => b.token.lastOffset), batches.map((_, i) => BigInt(i)));
  assert.ok(batches.every((b) => b.partitionKey === 'replay:t' && b.token.partitionKey === 'replay:t'));
  assert.ok(batches.every((b) => b.maxEventTime === Math.max(...b.records.map((r) => r.eventTime))));
});

test('without provenance, records get sequence offsets under the replay partition key', () => {
  const input = Array.from({ length: 95 }, (_, id): ReplayRow => ({ value: { id, ts: id }, time: id }));
  const seen = processed(batchAll(input, 10));
  assert.equal(seen.length, 95);
  assert.deepEqual(seen.map((r) => r.offset), input.map((_, i) => String(i)));
  assert.ok(seen.every((r) => r.topic === 'replay:t' && r.partition === 0));
});

test('a value without an event time becomes a dead letter naming its original record', () => {
  const input = rows([[0, 10], [1, 11], [2, 12]]);
  (input[1]!.value as { ts: unknown }).ts = 'soon';
  const [batch] = batchAll(input, 10);
  assert.equal(batch!.records.length, 2);
  assert.equal(batch!.deadLetters.length, 1);
  const letter = batch!.deadLetters[0]!;
  assert.deepEqual([letter.step, letter.topic, letter.partition, letter.offset], ['event-time', 'payments', 1, '11']);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(letter.raw!)), { id: 1, ts: 'soon' });
  assert.equal(batch!.token.recordCount, 3);
});
