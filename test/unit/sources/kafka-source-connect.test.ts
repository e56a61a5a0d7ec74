import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { kafkaTopic } from '../../../src/sources/kafka/kafka-source.ts';
import type { KafkaClient } from '../../../src/kafka/kafka-client.ts';
import { ConnectionError } from '../../../src/core/errors.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import type { SourceContext } from '../../../src/sources/source.ts';

test('an unreachable broker is retried with backoff, each attempt logged, then reported by address', { timeout: 20_000 }, async () => {
  let attempts = 0;
  const warnings: string[] = [];
  const logger = Object.assign(Object.create(silentLogger), { warn: (_: unknown, message: string) => warnings.push(message) });
  const unreachable = (): KafkaClient => ({
    consumer: () =>
      ({
        connect: async () => {
          attempts++;
          throw new Error('connect ECONNREFUSED 127.0.0.1:1');
        },
      }) as never,
    producer: () => ({}) as never,
    admin: () => ({ connect: async () => {}, partitionCount: async () => 2, topicEndOffsets: async () => [], disconnect: async () => {} }) as never,
  });
  const source = kafkaTopic<{ ts: number }>({ topic: 'payments', format: 'json', eventTime: (e) => e.ts, client: unreachable }).create({
    topology: 't',
    logger,
    metrics: new Metrics(),
    schemasDir: path.resolve('schemas'),
    kafkaBrokers: ['127.0.0.1:1'],
    groupId: 'g',
    commitIntervalMs: 1_000,
    maxChunkRecords: 100,
  });
  await assert.rejects(source.start({} as SourceContext<{ ts: number }>), (error: unknown) => {
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.retriable, false, 'after its own 3 attempts the connect is not retriable');
    assert.match(error.message, /^Kafka: cannot reach brokers 127\.0\.0\.1:1 \(is the broker running\? scripts\/services\.sh start\)$/);
    assert.match(String((error.cause as Error).message), /failed after 3 attempt\(s\): connect ECONNREFUSED/);
    return true;
  });
  assert.equal(attempts, 3);
  assert.deepEqual(warnings, ['Kafka at 127.0.0.1:1 unreachable, retrying', 'Kafka at 127.0.0.1:1 unreachable, retrying']);
});
