import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { kafkaTopic } from '../../../src/sources/kafka/kafka-source.ts';
import type { BatchControl, FetchedBatch, KafkaClient } from '../../../src/kafka/kafka-client.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import type { SourceBatch, SourceContext } from '../../../src/sources/source.ts';

type Event = { ts: number };

/** A consumer whose handler the test drives: each `deliver` is one fetch of one partition. */
function scriptedClient() {
  let handler: ((batch: FetchedBatch, control: BatchControl) => Promise<void>) | null = null;
  let staleAfterChecks = Infinity;
  let assign: (assignment: Array<{ topic: string; partitions: number[] }>) => void = () => {};
  const control: BatchControl = { heartbeat: async () => {}, isRunning: () => true, isStale: () => staleAfterChecks-- <= 0 };
  const client = (): KafkaClient => ({
    consumer: () =>
      ({
        connect: async () => {},
        subscribe: async () => {},
        run: async (h: typeof handler) => void (handler = h),
        onAssignment: (listener: typeof assign) => void (assign = listener),
        onProgress: () => {},
        commit: async () => {},
        pause: () => {},
        disconnect: async () => {},
        groupJoins: 1,
      }) as never,
    producer: () => ({}) as never,
    admin: () => ({ connect: async () => {}, partitionCount: async () => 2, topicEndOffsets: async () => [], committedOffsets: async () => [], disconnect: async () => {} }) as never,
  });
  const deliver = (partition: number, offsets: number[]) =>
    handler!({ topic: 't', partition, messages: offsets.map((offset) => ({ offset: String(offset), key: null, value: Buffer.from(JSON.stringify({ ts: offset })), timestamp: '0' })) }, control);
  /** The next batches turn stale (a rebalance) after `checks` chunk checks. */
  const staleAfter = (checks: number) => (staleAfterChecks = checks);
  /** A group join with this member's new partitions of topic t. */
  const reassign = (partitions: number[]) => assign([{ topic: 't', partitions }]);
  return { client, deliver, staleAfter, reassign };
}

async function startSource(resumeFrom?: Map<string, bigint>) {
  const { client, deliver, staleAfter, reassign } = scriptedClient();
  const prepared: string[] = [];
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
  });
  const prepare = async (key: string) => {
    prepared.push(key);
    return resumeFrom?.get(key);
  };
  const context = { push: async (batch: SourceBatch<Event>) => void pushed.push(batch), assigned: () => {}, prepare } as unknown as SourceContext<Event>;
  await source.start(context);
  const offsets = () => pushed.flatMap((b) => b.records.map((r) => Number(r.offset)));
  return { source, deliver, offsets, staleAfter, reassign, prepared };
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

test('a partition revoked and assigned again is prepared again and resumes from its checkpoint, not from where this process was', async () => {
  const resumeFrom = new Map([['t:0', 0n]]);
  const { source, deliver, offsets, reassign, prepared } = await startSource(resumeFrom);
  reassign([0, 1]);
  await deliver(0, [0, 1, 2, 3, 4]);
  await deliver(0, [2, 3, 4, 5]); // a rejoin that keeps t:0: already handed over, skipped
  reassign([1]); // t:0 moves to another instance, which checkpoints it at offset 3 ...
  reassign([0, 1]); // ... and comes back
  resumeFrom.set('t:0', 3n);
  await deliver(0, [2, 3, 4, 5, 6]);
  assert.deepEqual(offsets(), [0, 1, 2, 3, 4, 5, 3, 4, 5, 6]);
  assert.deepEqual(prepared, ['t:0', 't:0']);
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
