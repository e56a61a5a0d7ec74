import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckToken } from '../../../src/core/ack.ts';
import type { StreamRecord } from '../../../src/core/batch.ts';
import type { Admin, KafkaClient, ProducedMessage, TransactionalProducer } from '../../../src/kafka/kafka-client.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import type { SinkEnvironment, TransactionalOutput } from '../../../src/sinks/sink.ts';
import { kafkaTopicSink } from '../../../src/sinks/kafka/topic-sink.ts';
import { SCHEMAS_DIR } from '../../helpers/services.ts';

interface Committed {
  id: string;
  topic: string;
  messages: ProducedMessage[];
  offsets: Array<{ topic: string; partition: number; offset: string; metadata?: string }>;
}

/** A Kafka client double: transactions are recorded when committed, aborted ones dropped; offsets keep their metadata. */
function fakeKafka() {
  const committed: Committed[] = [];
  const groupOffsets = new Map<string, { offset: string; metadata: string | null }>();
  const connects: string[] = [];
  const client: KafkaClient = {
    consumer: () => assert.fail('unused'),
    producer: () => assert.fail('unused'),
    admin: (): Admin => ({
      connect: async () => {},
      disconnect: async () => {},
      committedOffsets: async (_group, topic) => [...groupOffsets].filter(([k]) => k.startsWith(`${topic}:`)).map(([k, v]) => ({ partition: Number(k.slice(topic.length + 1)), ...v })),
      createTopic: async () => {},
      topicEndOffsets: async () => [],
      setCommittedOffsets: async () => {},
      partitionCount: async () => 1,
    }),
    transactionalProducer: (id): TransactionalProducer => ({
      transactionalId: id,
      connect: async () => void connects.push(id),
      disconnect: async () => {},
      transaction: async () => {
        const open: Committed = { id, topic: '', messages: [], offsets: [] };
        return {
          send: async (topic, messages) => {
            open.topic = topic;
            open.messages.push(...messages);
          },
          sendOffsets: async (_group, offsets) => void open.offsets.push(...offsets),
          commit: async () => {
            committed.push(open);
            for (const o of open.offsets) groupOffsets.set(`${o.topic}:${o.partition}`, { offset: o.offset, metadata: o.metadata ?? null });
          },
          abort: async () => {},
        };
      },
    }),
  };
  return { client, committed, groupOffsets, connects };
}

function environment(client: KafkaClient, outputs: TransactionalOutput[], fatal: unknown[]): SinkEnvironment {
  return {
    topology: 'card-fraud', logger: silentLogger, metrics: new Metrics(), schemasDir: SCHEMAS_DIR,
    clickhouse: () => Promise.reject(new Error('unused')), state: () => Promise.reject(new Error('unused')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('unused')),
    fail: (error) => fatal.push(error), groupId: 'g', kafkaClient: () => client, transactional: (output) => outputs.push(output),
  };
}

const row = (cardId: string, n: number): StreamRecord<{ cardId: string; n: number }> => ({ value: { cardId, n }, key: cardId, eventTime: 1_000 + n, topic: '', partition: -1, offset: '' });

test('exactly-once: records leave only with a checkpoint, in one transaction with its offset and id; a restart completes a saved but uncommitted one', async () => {
  const kafka = fakeKafka();
  const outputs: TransactionalOutput[] = [];
  const fatal: unknown[] = [];
  const sink = kafkaTopicSink<{ cardId: string; n: number }>('out', { format: 'json', delivery: 'exactly-once' }).create(environment(kafka.client, outputs, fatal));
  await sink.open();
  assert.equal(outputs.length, 1, 'registered as the transactional output');
  const output = outputs[0]!;
  await output.restore('in:0', null);
  assert.deepEqual(kafka.connects, ['tributary:card-fraud:g:in:0'], 'transactional id from topology, group and partition');
  const token = new AckToken('in:0', 9n, 10, () => {});
  sink.write([row('a', 1), row('b', 2)], [token]);
  token.release();
  assert.ok(token.done, 'no token held: the checkpoint holds the records');
  assert.ok(output.holds('in:0'));
  const first = output.capture('in:0');
  sink.write([row('c', 3)], [new AckToken('in:0', 12n, 1, () => {})]); // after the cut: the next checkpoint's
  await output.commit([{ partition: 'in:0', offset: '10', output: first }]);
  assert.equal(kafka.committed.length, 1);
  assert.deepEqual(kafka.committed[0]!.messages.map((m) => JSON.parse(String(m.value)).n), [1, 2]);
  assert.deepEqual(kafka.committed[0]!.messages.map((m) => m.key), ['a', 'b'], 'keyed by the stream key');
  assert.equal(kafka.committed[0]!.messages[0]!.headers!['tributary-event-time'], '1001');
  const id = kafka.groupOffsets.get('in:0')!.metadata!;
  assert.deepEqual(kafka.groupOffsets.get('in:0'), { offset: '10', metadata: id });

  // A checkpoint (offset 13, with record 3) saved, then the process died before its transaction.
  const second = output.capture('in:0');
  const restarted = fakeKafka();
  restarted.groupOffsets.set('in:0', { offset: '10', metadata: id });
  const outputs2: TransactionalOutput[] = [];
  kafkaTopicSink<{ cardId: string; n: number }>('out', { format: 'json', delivery: 'exactly-once' }).create(environment(restarted.client, outputs2, fatal));
  await outputs2[0]!.restore('in:0', { offset: '13', output: second });
  assert.deepEqual(restarted.committed.map((c) => c.messages.map((m) => JSON.parse(String(m.value)).n)), [[3]], 'the saved transaction completed once');
  assert.equal(restarted.groupOffsets.get('in:0')!.offset, '13');

  // Restored again from the same checkpoint: its transaction is committed now (same id), nothing is produced again.
  await outputs2[0]!.restore('in:0', { offset: '13', output: second });
  assert.equal(restarted.committed.length, 1);
  assert.deepEqual(fatal, []);
});

test('exactly-once refuses to run outside an engine; avro without a schema is a ConfigError naming the setting', () => {
  const kafka = fakeKafka();
  const env = environment(kafka.client, [], []);
  delete env.transactional;
  assert.throws(() => kafkaTopicSink('out', { delivery: 'exactly-once' }).create(env), /kafkaTopicSink\(out\)\.delivery/);
  assert.throws(() => kafkaTopicSink('out', { format: 'avro' }).create(environment(kafka.client, [], [])), /kafkaTopicSink\(out\)\.schema/);
});

test('a value the schema cannot encode is a dead letter with its provenance, the others are produced', async () => {
  const kafka = fakeKafka();
  const letters: unknown[] = [];
  const env = { ...environment(kafka.client, [], []), deadLetter: (l: unknown[]) => void letters.push(...l) };
  const outputs: TransactionalOutput[] = [];
  env.transactional = (o) => outputs.push(o);
  const sink = kafkaTopicSink<Record<string, unknown>>('out', { schema: 'fraud_prediction.avsc', delivery: 'exactly-once' }).create(env);
  await sink.open();
  await outputs[0]!.restore('in:0', null);
  sink.write([{ value: { cardId: 'x' }, key: 'x', eventTime: 5, topic: 'in', partition: 0, offset: '7' }], [new AckToken('in:0', 7n, 1, () => {})]);
  assert.equal(letters.length, 1);
  assert.match(JSON.stringify(letters[0]), /"step":"kafka:out".*"offset":"7"/);
  assert.equal(outputs[0]!.holds('in:0'), false);
});

test('exactly-once: a token that tracks no offset (the engine\'s latency timing token) joins any partition\'s write; two partitions in one write stop the engine', async () => {
  const kafka = fakeKafka();
  const outputs: TransactionalOutput[] = [];
  const fatal: unknown[] = [];
  const sink = kafkaTopicSink<{ cardId: string; n: number }>('out', { format: 'json', delivery: 'exactly-once' }).create(environment(kafka.client, outputs, fatal));
  await sink.open();
  await outputs[0]!.restore('in:0', null);
  sink.write([row('a', 1)], [new AckToken('in:0', 4n, 1, () => {}), new AckToken('latency', -1n, 1, () => {})]);
  assert.deepEqual(fatal, []);
  assert.ok(outputs[0]!.holds('in:0'), 'the rows wait under their source partition');
  assert.ok(!outputs[0]!.holds('latency'));
  sink.write([row('b', 2)], [new AckToken('in:0', 5n, 1, () => {}), new AckToken('in:1', 8n, 1, () => {})]);
  assert.equal(fatal.length, 1);
  assert.match(String(fatal[0]), /rows of in:0 and in:1/);
});
