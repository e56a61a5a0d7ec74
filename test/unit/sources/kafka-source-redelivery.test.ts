import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { kafkaTopic } from '../../../src/sources/kafka/kafka-source.ts';
import type { BatchControl, FetchedBatch, KafkaClient } from '../../../src/sources/kafka/kafka-client.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import type { SourceBatch, SourceContext } from '../../../src/sources/source.ts';

type Event = { ts: number };

/** A consumer whose handler the test drives: each `deliver` is one fetch of one partition. */
function scriptedClient() {
  let handler: ((batch: FetchedBatch, control: BatchControl) => Promise<void>) | null = null;
  let staleAfterChecks = Infinity;
  const control: BatchControl = { heartbeat: async () => {}, isRunning: () => true, isStale: () => staleAfterChecks-- <= 0 };
  const client = (): KafkaClient => ({
    consumer: () =>
      ({
        connect: async () => {},
        subscribe: async () => {},
        run: async (h: typeof handler) => void (handler = h),
        onAssignment: () => {},
        commit: async () => {},
        pause: () => {},
        disconnect: async () => {},
        groupJoins: 1,
      }) as never,
    producer: () => ({}) as never,
    admin: () => ({}) as never,
  });
  const deliver = (partition: number, offsets: number[]) =>
    handler!({ topic: 't', partition, messages: offsets.map((offset) => ({ offset: String(offset), key: null, value: Buffer.from(JSON.stringify({ ts: offset })), timestamp: '0' })) }, control);
  /** The next batches turn stale (a rebalance) after `checks` chunk checks. */
  const staleAfter = (checks: number) => (staleAfterChecks = checks);
  return { client, deliver, staleAfter };
}

async function startSource(resumeFrom?: Map<string, bigint>) {
  const { client, deliver, staleAfter } = scriptedClient();
  const pushed: SourceBatch<Event>[] = [];
  const source = kafkaTopic<Event>({ topic: 't', format: 'json', eventTime: (e) => e.ts, client }).create({
    topology: 'x',
    logger: silentLogger,
    metrics: new Metrics(),
    schemasDir: path.resolve('schemas'),
    kafkaBrokers: ['127.0.0.1:1'],
    groupId: 'g',
    commitIntervalMs: 60_000,
    maxChunkRecords: 2,
    resumeFrom,
  });
  const context = { push: async (batch: SourceBatch<Event>) => void pushed.push(batch), assigned: () => {} } as unknown as SourceContext<Event>;
  await source.start(context);
  const offsets = () => pushed.flatMap((b) => b.records.map((r) => Number(r.offset)));
  return { source, deliver, offsets, staleAfter };
}

test('records delivered again after a rejoin (fetch from the committed offset) are not processed twice', async () => {
  const { source, deliver, offsets } = await startSource();
  await deliver(0, [0, 1, 2, 3, 4]);
  await deliver(1, [0, 1]);
  // The group rejoined (broker restart): fetching restarts at the committed offset 2 of partition 0.
  await deliver(0, [2, 3, 4, 5, 6]);
  await deliver(1, [0, 1, 2]);
  assert.deepEqual(offsets(), [0, 1, 2, 3, 4, 0, 1, 5, 6, 2]);
  await source.stop();
});

test('records a resumed checkpoint covers are skipped, later ones pass', async () => {
  const { source, deliver, offsets } = await startSource(new Map([['t:0', 3n]]));
  await deliver(0, [1, 2, 3, 4]);
  await deliver(1, [0, 1]);
  assert.deepEqual(offsets(), [3, 4, 0, 1]);
  await source.stop();
});

test('a batch that turns stale midway reports the last offset handed over, so the client fetches the rest again', async () => {
  const { source, deliver, offsets, staleAfter } = await startSource();
  staleAfter(2); // chunks of 2: [0, 1] and [2, 3] go through, then the batch is stale
  assert.equal(await deliver(0, [0, 1, 2, 3, 4, 5]), '3');
  staleAfter(Infinity);
  assert.equal(await deliver(0, [4, 5]), undefined);
  assert.deepEqual(offsets(), [0, 1, 2, 3, 4, 5]);
  staleAfter(0);
  assert.equal(await deliver(0, [6, 7]), null, 'nothing handed over');
  await source.stop();
});
