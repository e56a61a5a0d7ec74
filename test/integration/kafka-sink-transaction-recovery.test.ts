import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckToken } from '../../src/core/ack.ts';
import type { StreamRecord } from '../../src/core/batch.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import type { SinkEnvironment, TransactionalOutput } from '../../src/sinks/sink.ts';
import { kafkaTopicSink } from '../../src/sinks/kafka/topic-sink.ts';
import { engineConfig, SCHEMAS_DIR, uniqueName } from '../helpers/services.ts';
import { readTopicCommitted } from '../helpers/kafka-sink-run.ts';

/**
 * The crash windows the engine test may or may not hit, forced on the real broker: a checkpoint
 * saved (its records captured) whose transaction never ran, then a new owner; and a zombie that
 * commits after the new owner took over.
 */
test('exactly-once recovery on the broker: the next owner commits a saved but uncommitted checkpoint once, with its offset and id; a zombie owner is fenced', { timeout: 120_000 }, async (t) => {
  const brokers = engineConfig().kafkaBrokers!;
  const client = createKafkajsClient({ brokers, clientId: 'recovery-test', logger: silentLogger });
  const admin = client.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const source = uniqueName('source');
  const out = uniqueName('out');
  await admin.createTopic(source, { partitions: 1 });
  await admin.createTopic(out, { partitions: 1 });
  const groupId = uniqueName('group');
  const owner = async (fatal: unknown[]) => {
    const outputs: TransactionalOutput[] = [];
    const env: SinkEnvironment = {
      topology: 'recovery', logger: silentLogger, metrics: new Metrics(), schemasDir: SCHEMAS_DIR, groupId, kafkaClient: () => client, transactional: (o) => outputs.push(o),
      clickhouse: () => Promise.reject(new Error('unused')), state: () => Promise.reject(new Error('unused')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('unused')), fail: (e) => fatal.push(e),
    };
    const sink = kafkaTopicSink<{ n: number }>(out, { format: 'json', delivery: 'exactly-once' }).create(env);
    await sink.open();
    t.after(() => sink.close());
    return { sink, output: outputs[0]! };
  };
  const rows = (from: number, to: number): StreamRecord<{ n: number }>[] => Array.from({ length: to - from }, (_, i) => ({ value: { n: from + i }, key: `k${from + i}`, eventTime: from + i, topic: '', partition: -1, offset: '' }));
  const partition = `${source}:0`;

  const firstFatal: unknown[] = [];
  const first = await owner(firstFatal);
  await first.output.restore(partition, null);
  first.sink.write(rows(0, 100), [new AckToken(partition, 99n, 100, () => {})]);
  await first.output.commit([{ partition, offset: '100', output: first.output.capture(partition) }]);
  first.sink.write(rows(100, 150), [new AckToken(partition, 149n, 50, () => {})]);
  const saved = first.output.capture(partition); // in the checkpoint; the process dies before its transaction

  const second = await owner([]);
  await second.output.restore(partition, { offset: '150', output: saved });
  const [committed] = await admin.committedOffsets(groupId, source);
  assert.equal(committed!.offset, '150', 'the saved checkpoint\'s offset, committed by its transaction');
  await second.output.restore(partition, { offset: '150', output: saved }); // restored again: already committed, nothing produced
  assert.deepEqual((await readTopicCommitted(brokers, out)).map((v) => (v as { n: number }).n), Array.from({ length: 150 }, (_, i) => i), 'each record once, in order');

  // The first owner, fenced by the second's transactional id, cannot commit any more.
  first.sink.write(rows(150, 160), [new AckToken(partition, 159n, 10, () => {})]);
  await assert.rejects(first.output.commit([{ partition, offset: '160', output: first.output.capture(partition) }]), /transaction failed/);
  assert.equal(firstFatal.length, 1, 'the zombie stops');
  assert.equal((await readTopicCommitted(brokers, out)).length, 150, 'nothing of the zombie visible');
});
