import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKafkaClient, KAFKA_CLIENT_KINDS } from '../../src/kafka/create-kafka-client.ts';
import type { KafkaClient } from '../../src/kafka/kafka-client.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { requireService, uniqueName, waitFor } from '../helpers/services.ts';

// A consumer that leaves fetch.min.bytes to the client must get a record as soon as it exists,
// behind every client of the Kafka port: a window's closing record must not wait for bytes to
// pile up. With the max wait at 25 s, a client that asked for more bytes than one record (the
// @platformatic/kafka adapter asked for 256 KiB) delivers only when the wait runs out.
const MAX_WAIT_MS = 25_000;
const DELIVERED_WITHIN_MS = 12_000;

for (const kind of KAFKA_CLIENT_KINDS) {
  test(`${kind}: a consumer with the port's default fetch.min.bytes gets one small record long before its ${MAX_WAIT_MS / 1000} s max wait`, { timeout: 90_000 }, async (t) => {
    const brokers = requireService('KAFKA_BROKERS').split(',');
    const topic = uniqueName(`fetch_defaults_${kind}`);
    const kafka: KafkaClient = createKafkaClient({ kind, brokers, clientId: 'fetch-defaults-test', logger: silentLogger });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopic(topic, { partitions: 1 });
    const producer = kafka.producer();
    await producer.connect();
    const consumer = kafka.consumer({ groupId: uniqueName('fetch-defaults'), maxWaitTimeMs: MAX_WAIT_MS });
    t.after(async () => {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    });
    await consumer.connect();
    await consumer.subscribe(topic, { fromBeginning: true });
    let assigned = false;
    consumer.onAssignment(() => (assigned = true));
    const received: string[] = [];
    void consumer.run(async (batch) => {
      for (const message of batch.messages) received.push(message.value?.toString() ?? '');
    });
    await waitFor('the partition assigned', async () => assigned, (done) => done, 60_000);

    const sentAt = performance.now();
    await producer.send(topic, [{ key: 'k', value: 'one small record' }]);
    await waitFor('the record', async () => received.length, (n) => n >= 1, MAX_WAIT_MS + 20_000);
    const waitedMs = performance.now() - sentAt;
    assert.deepEqual(received, ['one small record']);
    assert.ok(waitedMs < DELIVERED_WITHIN_MS, `${kind} delivered the record after ${waitedMs.toFixed(0)} ms: its fetch waited for more bytes than one record (max wait ${MAX_WAIT_MS} ms)`);
  });
}
