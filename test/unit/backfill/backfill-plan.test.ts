import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { backfillEvents, backfillTopology } from '../../../src/backfill/backfill-plan.ts';
import { parseTime } from '../../../src/cli/time-option.ts';
import { backfillCommand, formatSummary, parseBatchSize, parseMaxRate, registerBackfillCommand } from '../../../src/cli/backfill-command.ts';
import { backfillProgress } from '../../../src/cli/backfill-progress.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import type { SinkEnvironment, SinkSpec } from '../../../src/sinks/sink.ts';
import type { AnyTopology } from '../../../src/topology/define-topology.ts';
import { createCardFraudTopology } from '../../../topologies/card-fraud.ts';

function assertConfigError(run: () => unknown, field: string, problem: RegExp): void {
  assert.throws(run, (error: Error & { field?: string }) => {
    assert.equal(error.name, 'ConfigError');
    assert.equal(error.field, field);
    assert.match(error.message, problem);
    return true;
  });
}

test('--from/--to: epoch ms, ISO-8601 with a zone, or a date at midnight UTC', () => {
  assert.equal(parseTime('1767225600000', '--from'), 1_767_225_600_000);
  assert.equal(parseTime('2026-01-01T00:00:00Z', '--from'), 1_767_225_600_000);
  assert.equal(parseTime('2026-01-01T01:00:00.250+01:00', '--from'), 1_767_225_600_250);
  assert.equal(parseTime('2026-01-01T00:00Z', '--to'), 1_767_225_600_000);
  assert.equal(parseTime('2026-01-01', '--to'), 1_767_225_600_000);
  assertConfigError(() => parseTime('2026-01-01T00:00:00', '--from'), '--from', /has no time zone/);
  assertConfigError(() => parseTime('yesterday', '--to'), '--to', /"yesterday" is not a time/);
  assertConfigError(() => parseTime('2026-02-30', '--to'), '--to', /not a valid date/);
  assertConfigError(() => parseTime('99999999999999999999', '--from'), '--from', /out of range/);
});

test('--max-rate: whole events per second from 1, or no limit', () => {
  assert.equal(parseMaxRate(undefined), undefined);
  assert.equal(parseMaxRate(' 20000 '), 20_000);
  for (const bad of ['0', '-5', '1.5', 'fast', '']) assertConfigError(() => parseMaxRate(bad), '--max-rate', /is not a whole number of events per second/);
});

test('--to must be after --from, checked before anything is read (the replay itself starts a warm-up earlier)', async () => {
  await assert.rejects(backfillCommand('topologies/card-fraud.ts', { from: '2026-01-02', to: '2026-01-02', batchSize: '10000', progress: false }), (error: Error & { field?: string }) => {
    assert.equal(error.name, 'ConfigError');
    assert.equal(error.field, '--to');
    assert.match(error.message, /is not after --from/);
    return true;
  });
});

test('--batch-size: whole rows from 1 to 1,000,000', () => {
  assert.equal(parseBatchSize('5000'), 5000);
  for (const bad of ['0', '-5', '1.5', 'many', '2000000']) assertConfigError(() => parseBatchSize(bad), '--batch-size', /is not a number of rows/);
});

const cardFraud = createCardFraudTopology({ topic: 'payments-x', tablePrefix: 'x_', deadLetterTopic: 'dlq' }) as unknown as AnyTopology;

test("the events table, schema and time column: from the lifecycle and the topology's own sink, or the options", () => {
  assert.deepEqual(backfillEvents(cardFraud, {}), { table: 'x_payments', schema: 'payment.avsc', timeColumn: 'ts' });
  assert.deepEqual(backfillEvents(cardFraud, { table: 'x_payments', timeColumn: 'other' }), { table: 'x_payments', schema: 'payment.avsc', timeColumn: 'other' });
  const { lifecycle: _none, ...withoutLifecycle } = cardFraud;
  assertConfigError(() => backfillEvents(withoutLifecycle, {}), '--table', /declares no lifecycle.eventsTable/);
  // Without a lifecycle the sink's timeField names the time column.
  assert.deepEqual(backfillEvents(withoutLifecycle, { table: 'x_payments' }), { table: 'x_payments', schema: 'payment.avsc', timeColumn: 'ts' });
  assertConfigError(() => backfillEvents(cardFraud, { table: 'elsewhere' }), '--schema', /no ClickHouse table sink .* writes elsewhere/);
  assertConfigError(() => backfillEvents(cardFraud, { table: 'elsewhere', schema: 'payment.avsc' }), '--time-column', /names the event-time column/);
  assert.deepEqual(backfillEvents(cardFraud, { table: 'elsewhere', schema: 'payment.avsc', timeColumn: 'ts' }), { table: 'elsewhere', schema: 'payment.avsc', timeColumn: 'ts' });
});

test('the backfill topology: no raw sinks, only ClickHouse sinks for outputs, late records and dead letters', () => {
  const { topology, kept, skipped, withoutOrigin } = backfillTopology(cardFraud, 'backfill');
  assert.deepEqual(Object.keys(topology.sinks).sort(), ['features', 'predictions']);
  assert.deepEqual(kept.map((d) => d.split(' (')[0]), ['ClickHouse table x_card_features', 'ClickHouse table x_fraud_predictions', 'ClickHouse late-record table x_late_records', 'ClickHouse dead-letter table x_dead_letters']);
  assert.ok(skipped.some((d) => d.startsWith('ClickHouse table x_payments')), 'the raw table');
  assert.ok(skipped.includes('websocket channel fraud'));
  assert.ok(skipped.includes('kafka dead-letter topic dlq'));
  assert.equal(skipped.filter((d) => /state|prefix|online/i.test(d)).length, 2, `the two online-state sinks in ${JSON.stringify(skipped)}`);
  assert.deepEqual(withoutOrigin, []);
  assert.equal(topology.sinks.features!.length, 1);
  assert.equal(topology.sinks.predictions!.length, 1);
  assert.equal([topology.deadLetter].flat().length, 1);
  assert.equal(topology.pipeline, cardFraud.pipeline, 'the same pipeline');
  assert.equal(cardFraud.sinks.features!.length, 2, 'the original topology is unchanged');
});

test('kept sinks refuse to open unless the engine tags rows with the backfill origin', () => {
  const { topology } = backfillTopology(cardFraud, 'backfill');
  const env = { topology: 't', logger: silentLogger, metrics: new Metrics(), schemasDir: '.', fail() {} } as unknown as SinkEnvironment;
  const spec = topology.sinks.features![0] as SinkSpec;
  assert.throws(() => spec.create(env), /would write rows tagged "online", not "backfill"/);
  assert.throws(() => spec.create({ ...env, origin: 'online' }), /EngineOptions.origin/);
  assert.doesNotThrow(() => spec.create({ ...env, origin: 'backfill' }));
  assert.equal(spec.kind, 'clickhouse');
});

test('a topology without ClickHouse output sinks cannot be backfilled', () => {
  const onlyPush = { ...cardFraud, sinks: { predictions: cardFraud.sinks.predictions!.filter((s) => s.kind !== 'clickhouse') } };
  assertConfigError(() => backfillTopology(onlyPush, 'backfill'), 'sinks', /no ClickHouse sink for its outputs/);
});

test('the command: options, defaults and the edges of the range in its help', () => {
  const program = new Command().exitOverride();
  registerBackfillCommand(program);
  const command = program.commands.find((c) => c.name() === 'backfill')!;
  assert.deepEqual(command.options.map((o) => o.long), ['--from', '--to', '--table', '--schema', '--time-column', '--batch-size', '--max-rate', '--warmup', '--no-progress']);
  let help = '';
  command.configureOutput({ writeOut: (text) => (help += text) });
  command.outputHelp();
  assert.match(help, /reads from --from minus --warmup/);
  assert.match(help, /bound that work with --max-rate/);
  assert.match(help, /Windows still open at --to\s+see only the events before it/);
  assert.throws(() => program.parse(['node', 'tributary', 'backfill', 'topologies/card-fraud.ts', '--to', '2026-01-02']), /required option '--from <time>'/);
});

test('summary and progress lines', () => {
  assert.equal(
    formatSummary({ table: 'payments', from: 0, to: 60_000, warmupMs: 0, events: 1000, outputs: { features: 40, predictions: 40 }, warmupSkipped: {}, seconds: 2 }),
    'Backfill of payments [1970-01-01T00:00:00.000Z, 1970-01-01T00:01:00.000Z) done: 1000 events in 2.0 s (500 events/s).\n  features: 40 rows\n  predictions: 40 rows\n',
  );
  assert.equal(
    formatSummary({ table: 'payments', from: 300_000, to: 360_000, warmupMs: 300_000, events: 1000, outputs: { features: 40 }, warmupSkipped: { features: 7 }, seconds: 2 }),
    'Backfill of payments [1970-01-01T00:05:00.000Z, 1970-01-01T00:06:00.000Z) done: 1000 events in 2.0 s (500 events/s).\n  features: 40 rows\n' +
      'Warm-up: read from 1970-01-01T00:00:00.000Z; rows of windows ending by --from, not written: features 7.\n',
  );
  let out = '';
  let now = 0;
  const stream = { isTTY: false, write: (text: string) => (out += text) } as unknown as NodeJS.WriteStream;
  const progress = backfillProgress({ enabled: true, stream, intervalMs: 5_000, now: () => now });
  progress.start(100);
  now = 1_000;
  progress.update({ read: 10, deadLetters: 0, total: 100 });
  now = 5_000;
  progress.update({ read: 50, deadLetters: 0, total: 100 });
  progress.stop();
  assert.equal(out, 'backfill: 100 events to replay\nbackfill: 50 of 100 events (50%), 10 events/s\n');
  out = '';
  const silent = backfillProgress({ enabled: false, stream });
  silent.start(5);
  silent.update({ read: 5, deadLetters: 0, total: 5 });
  assert.equal(out, '');
});
