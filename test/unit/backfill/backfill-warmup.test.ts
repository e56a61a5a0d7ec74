import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AckToken } from '../../../src/core/ack.ts';
import { backfillTopology } from '../../../src/backfill/backfill-plan.ts';
import { backfillWarmupMs, fromEventTime, type WarmupSkips } from '../../../src/backfill/backfill-warmup.ts';
import { parseDurationOption } from '../../../src/cli/number-option.ts';
import type { Sink, SinkEnvironment, SinkSpec } from '../../../src/sinks/sink.ts';
import type { AnyTopology } from '../../../src/topology/define-topology.ts';
import { createCardFraudTopology } from '../../../topologies/card-fraud.ts';

const cardFraud = createCardFraudTopology({ topic: 'payments-x', tablePrefix: 'x_' }) as unknown as AnyTopology;

test('warm-up: the feature set lookback by default (5m for card-fraud), 0 without a lifecycle', () => {
  assert.equal(backfillWarmupMs(cardFraud), 300_000);
  assert.equal(backfillWarmupMs({ ...cardFraud, lifecycle: undefined } as AnyTopology), 0, 'no lifecycle: no warm-up');
});

test('--warmup: a duration or milliseconds; 0 turns it off', () => {
  assert.equal(parseDurationOption('0', '--warmup'), 0);
  assert.equal(parseDurationOption('90s', '--warmup'), 90_000);
  assert.equal(parseDurationOption(' 120000 ', '--warmup'), 120_000);
  assert.throws(() => parseDurationOption('soon', '--warmup'), (error: Error & { field?: string }) => error.name === 'ConfigError' && error.field === '--warmup');
});

/** A sink that records what it was given. */
function recordingSpec(): { spec: SinkSpec<{ eventTime?: number; id: string }>; writes: Array<readonly { eventTime?: number; id: string }[]>; calls: string[] } {
  const writes: Array<readonly { eventTime?: number; id: string }[]> = [];
  const calls: string[] = [];
  const sink: Sink<{ eventTime?: number; id: string }> = {
    name: 'recording',
    open: async () => void calls.push('open'),
    write: (rows) => void writes.push(rows),
    isFull: () => calls.push('isFull') < 0,
    whenReady: async () => void calls.push('whenReady'),
    flush: async () => void calls.push('flush'),
    close: async () => void calls.push('close'),
  };
  return { spec: { description: 'recording sink', kind: 'clickhouse', create: () => sink }, writes, calls };
}

test('fromEventTime writes only rows at or after --from, counts the others per output, and passes an untouched batch as it came', async () => {
  const { spec, writes, calls } = recordingSpec();
  const skipped: WarmupSkips = {};
  const wrapped = fromEventTime(spec, 1_000, 'features', skipped);
  assert.equal(wrapped.description, 'recording sink');
  assert.equal(wrapped.kind, 'clickhouse');
  const sink = wrapped.create({} as SinkEnvironment);
  const acks: AckToken[] = [];
  sink.write([{ eventTime: 999, id: 'a' }, { eventTime: 1_000, id: 'b' }, { eventTime: 1_500, id: 'c' }, { id: 'no time' }], acks);
  sink.write([{ eventTime: 10, id: 'd' }, { eventTime: 999, id: 'e' }], acks);
  const later = [{ eventTime: 2_000, id: 'f' }];
  sink.write(later, acks);
  assert.deepEqual(writes.map((rows) => rows.map((row) => row.id)), [['b', 'c', 'no time'], ['f']], 'a batch only of warm-up rows is not written at all');
  assert.equal(writes[1], later, 'no copy when nothing is skipped');
  assert.deepEqual(skipped, { features: 3 });
  await sink.open();
  sink.isFull();
  await sink.whenReady();
  await sink.flush();
  await sink.close();
  assert.deepEqual(calls, ['open', 'isFull', 'whenReady', 'flush', 'close']);
});

test('with a warm-up the backfill topology filters its output and late sinks, not its dead letters', () => {
  const skipped: WarmupSkips = {};
  const { topology } = backfillTopology(cardFraud, 'backfill', { from: 1_000, skipped });
  const env = { origin: 'backfill' } as unknown as SinkEnvironment;
  for (const spec of [topology.sinks.features![0]!, topology.sinks.predictions![0]!, topology.late!]) {
    assert.equal((spec.create(env) as object).constructor.name, 'FromEventTimeSink', spec.description);
  }
  assert.notEqual(([topology.deadLetter].flat()[0]!.create(env) as object).constructor.name, 'FromEventTimeSink');
  const { topology: plain } = backfillTopology(cardFraud, 'backfill');
  assert.notEqual((plain.sinks.features![0]!.create(env) as object).constructor.name, 'FromEventTimeSink', 'no warm-up: the sinks as they are');
});
