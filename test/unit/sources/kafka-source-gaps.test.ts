import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { kafkaTopic } from '../../../src/sources/kafka/kafka-source.ts';
import type { BatchControl, FetchedBatch, KafkaClient } from '../../../src/kafka/kafka-client.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger, type Logger } from '../../../src/observability/logger.ts';
import type { SourceBatch, SourceContext, SourceEnvironment } from '../../../src/sources/source.ts';
import type { OffsetGapPolicy } from '../../../src/sources/kafka/offset-gaps.ts';

type Event = { ts: number };

interface Scenario {
  /** Log bounds per partition: [low, high). */
  log: Array<{ partition: number; low: string; high: string }>;
  committed: Array<{ partition: number; offset: string }>;
  checkpoints?: Map<string, bigint>;
  policy?: OffsetGapPolicy;
  durable?: boolean;
}

/** A scripted consumer of topic t (the test delivers fetches) over an admin that reports `scenario`. */
async function startSource(scenario: Scenario) {
  let handler: ((batch: FetchedBatch, control: BatchControl) => Promise<unknown>) | null = null;
  let assign: (assignment: Array<{ topic: string; partitions: number[] }>) => void = () => {};
  let clientLogger: Logger = silentLogger;
  const seeks: Array<[number, bigint]> = [];
  const control: BatchControl = { heartbeat: async () => {}, isRunning: () => true, isStale: () => false };
  const client = (_brokers: string[], environment: SourceEnvironment): KafkaClient => {
    clientLogger = environment.logger;
    return {
      consumer: () =>
        ({
          connect: async () => {},
          subscribe: async () => {},
          run: async (h: typeof handler) => void (handler = h),
          onAssignment: (listener: typeof assign) => void (assign = listener),
          onProgress: () => {},
          commit: async () => {},
          pause: () => {},
          seek: (_topic: string, partition: number, offset: bigint) => void seeks.push([partition, offset]),
          disconnect: async () => {},
          groupJoins: 1,
        }) as never,
      producer: () => ({}) as never,
      admin: () =>
        ({
          connect: async () => {},
          partitionCount: async () => scenario.log.length,
          topicEndOffsets: async () => scenario.log,
          committedOffsets: async () => scenario.committed,
          disconnect: async () => {},
        }) as never,
    };
  };
  const metrics = new Metrics();
  const failures: Error[] = [];
  const discarded: string[] = [];
  const pushed: SourceBatch<Event>[] = [];
  const source = kafkaTopic<Event>({ topic: 't', format: 'json', eventTime: (e) => e.ts, client, onOffsetGap: scenario.policy }).create({
    topology: 'x',
    logger: silentLogger,
    metrics,
    schemasDir: path.resolve('schemas'),
    kafkaBrokers: ['127.0.0.1:1'],
    groupId: 'g',
    commitIntervalMs: 60_000,
    maxChunkRecords: 100,
    durableState: scenario.durable ?? true,
  });
  const context = {
    push: async (batch: SourceBatch<Event>) => void pushed.push(batch),
    assigned: () => {},
    prepare: async (key: string) => scenario.checkpoints?.get(key),
    checkpointOffset: async (key: string) => scenario.checkpoints?.get(key),
    discardCheckpoint: async (key: string) => {
      discarded.push(key);
      scenario.checkpoints?.delete(key);
    },
    fail: (error: Error) => failures.push(error),
  } as unknown as SourceContext<Event>;
  await source.start(context);
  const deliver = (partition: number, from: number, to: number) =>
    handler!({ topic: 't', partition, messages: Array.from({ length: to - from }, (_, i) => ({ offset: String(from + i), key: null, value: Buffer.from(JSON.stringify({ ts: from + i })), timestamp: '0' })) }, control);
  const lost = async () => (await metrics.recordsLost.get()).values.map(({ labels, value }) => [labels.partition, labels.reason, value]);
  const offsets = () => pushed.flatMap((b) => b.records.map((r) => Number(r.offset)));
  return { source, deliver, reassign: (partitions: number[]) => assign([{ topic: 't', partitions }]), seeks, failures, discarded, lost, offsets, kafkajsLog: () => clientLogger };
}

test("durable state: a checkpoint below the log start stops the source (default 'fail'): nothing handed over, every partition's gap named and counted", async () => {
  const run = await startSource({
    log: [
      { partition: 0, low: '500', high: '900' },
      { partition: 1, low: '200', high: '300' },
    ],
    committed: [
      { partition: 0, offset: '100' },
      { partition: 1, offset: '150' },
    ],
    checkpoints: new Map([['t:0', 120n]]),
  });
  run.reassign([0, 1]);
  assert.equal(await run.deliver(0, 500, 510), null, 'the batch after the reset is not handed over');
  assert.equal(await run.deliver(1, 200, 210), null);
  assert.deepEqual(run.offsets(), []);
  assert.equal(run.failures.length, 1);
  assert.match(run.failures[0]!.message, /^430 records were lost/);
  assert.match(run.failures[0]!.message, /partition 0: offsets 120 to 499 \(380 records\).*checkpoint is 120/);
  assert.match(run.failures[0]!.message, /partition 1: offsets 150 to 199 \(50 records\).*committed offset is 150/);
  assert.deepEqual(await run.lost(), [['0', 'below_log_start', 380], ['1', 'below_log_start', 50]]);
  assert.deepEqual(run.discarded, [], "'fail' keeps the checkpoint");
  await run.source.stop();
});

test("'earliest': the gap is counted, the checkpoint in it discarded, and reading continues at the log start", async () => {
  const run = await startSource({ log: [{ partition: 0, low: '500', high: '900' }], committed: [{ partition: 0, offset: '100' }], checkpoints: new Map([['t:0', 120n]]), policy: 'earliest' });
  run.reassign([0]);
  assert.equal(await run.deliver(0, 500, 505), undefined);
  assert.deepEqual(run.offsets(), [500, 501, 502, 503, 504], 'not filtered by the discarded checkpoint');
  assert.deepEqual(run.discarded, ['t:0']);
  assert.deepEqual(run.seeks, []);
  assert.deepEqual(await run.lost(), [['0', 'below_log_start', 380]]);
  assert.deepEqual(run.failures, []);
  await run.source.stop();
});

test("'latest': the consumer seeks to the end once, and the records it skips are counted too", async () => {
  const run = await startSource({ log: [{ partition: 0, low: '500', high: '900' }], committed: [{ partition: 0, offset: '100' }], policy: 'latest', durable: false });
  run.reassign([0]);
  assert.equal(await run.deliver(0, 500, 505), null);
  assert.deepEqual(run.seeks, [[0, 900n]]);
  assert.equal(await run.deliver(0, 900, 902), undefined);
  assert.deepEqual(run.offsets(), [900, 901]);
  assert.deepEqual(await run.lost(), [['0', 'below_log_start', 400], ['0', 'skipped_to_latest', 400]]);
  await run.source.stop();
});

test('a position inside the log is no gap; a reset the client logs while running is checked against the position this process reached', async () => {
  const scenario: Scenario = { log: [{ partition: 0, low: '0', high: '100' }], committed: [{ partition: 0, offset: '40' }], durable: false };
  const run = await startSource(scenario);
  run.reassign([0]);
  await run.deliver(0, 40, 60);
  assert.deepEqual(await run.lost(), []);
  // Retention overtakes the consumer: kafkajs finds offset 60 out of range, logs it and resets to 75.
  scenario.log = [{ partition: 0, low: '75', high: '130' }];
  run.kafkajsLog().error({ topic: 't', partition: 0, groupId: 'g' }, 'Offset out of range, resetting to default offset');
  await run.deliver(0, 75, 80);
  assert.deepEqual(await run.lost(), [['0', 'below_log_start', 15]]);
  assert.deepEqual(run.offsets().slice(-5), [75, 76, 77, 78, 79]);
  // A reset logged for another topic changes nothing.
  run.kafkajsLog().error({ topic: 'other', partition: 0 }, 'Offset out of range, resetting to default offset');
  await run.deliver(0, 80, 81);
  assert.deepEqual(await run.lost(), [['0', 'below_log_start', 15]]);
  await run.source.stop();
});
