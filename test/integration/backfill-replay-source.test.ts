import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { StreamRecord } from '../../src/core/batch.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { clickhouseTable } from '../../src/sinks/clickhouse/table-sink.ts';
import type { SinkEnvironment, SinkSpec } from '../../src/sinks/sink.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { clickhouseReplay, type ReplayProgress } from '../../src/sources/clickhouse-replay/replay-source.ts';
import type { SourceBatch, SourceContext } from '../../src/sources/source.ts';
import { SCHEMAS_DIR } from '../helpers/services.ts';
import { clickhouseTargets } from '../helpers/clickhouse-targets.ts';

/**
 * The backfill's source on both servers (18.16 over HTTP, required; embedded chDB): events read
 * back in event-time order, each once (FINAL over replayed copies), with their provenance and
 * their Avro-typed values, in pages far smaller than the range.
 */
for (const target of clickhouseTargets()) describe(target.label, () => suite(target.connect, target.cleanup));

const START = Date.UTC(2025, 11, 31, 23, 50); // crosses midnight: two day partitions

function suite(connect: () => Promise<ClickHouseClient>, cleanup?: () => Promise<void>): void {
  const prefix = `replaysrc_${randomBytes(4).toString('hex')}_`;
  let client: ClickHouseClient;
  let env: SinkEnvironment;
  let records: StreamRecord<Payment>[];

  before(async () => {
    client = await connect();
    env = {
      topology: 't', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client, schemasDir: SCHEMAS_DIR,
      state: () => Promise.reject(new Error('unused')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('unused')),
      fail: (error) => {
        throw error;
      },
    };
    // 3,000 payments 400 ms apart (out of order by the model's jitter), 300 of them in one
    // millisecond, stored as the raw sink stores them; then 1,500 again, as a replay after a
    // crash writes them (copies until merged).
    const model = new CardPaymentModel({ seed: 9, cards: 50, lateShare: 0 });
    const payments = Array.from({ length: 3_000 }, (_, i) => model.next(START + i * 400).payment);
    for (let i = 1_000; i < 1_300; i++) payments[i]!.ts = START + 400_000;
    records = payments.map((p, i): StreamRecord<Payment> => ({ value: p, key: p.cardId, eventTime: p.ts, topic: 'pay', partition: i % 3, offset: String(10_000 + Math.floor(i / 3)) }));
    const spec = clickhouseTable<Payment>(`${prefix}payments`, { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance' });
    await write(spec, records);
    await write(spec, records.slice(500, 2_000), 333);
  });

  after(async () => {
    if (client) {
      for (const name of ['payments', 'typed']) await client.command({ query: `DROP TABLE IF EXISTS ${prefix}${name}` });
      await client.close();
    }
    await cleanup?.();
  });

  async function write<T>(spec: SinkSpec<StreamRecord<T>>, rows: StreamRecord<T>[], per = 500): Promise<void> {
    const sink = spec.create(env);
    await sink.open();
    for (let i = 0; i < rows.length; i += per) {
      sink.write(rows.slice(i, i + per), []);
      await sink.flush();
    }
    await sink.close();
  }

  async function replay<T>(options: Omit<Parameters<typeof clickhouseReplay<T>>[0], 'clickhouse' | 'outOfOrdernessMs'>) {
    const progress: ReplayProgress[] = [];
    const spec = clickhouseReplay<T>({ ...options, outOfOrdernessMs: 5_000, clickhouse: async () => client, onProgress: (p) => progress.push(p) });
    const batches: SourceBatch<T>[] = [];
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    const context = {
      logger: silentLogger, metrics: new Metrics(), topology: 't',
      push: async (batch: SourceBatch<T>) => void batches.push(batch),
      assigned: () => {}, fail: (error: unknown) => assert.fail(String(error)), end: () => ended(),
    } satisfies SourceContext<T>;
    const source = spec.create({ topology: 't', logger: silentLogger, metrics: new Metrics(), schemasDir: SCHEMAS_DIR, groupId: 'g', commitIntervalMs: 1000, maxChunkRecords: 100 });
    await source.start(context);
    await end;
    await source.stop();
    return { spec, batches, records: batches.flatMap((b) => b.records), progress };
  }

  test('raw payments: time order, ties in Kafka order, replayed copies once, provenance kept, paged', async () => {
    const from = START + 60_000;
    const to = START + 1_000_000;
    const { spec: replaySpec, records: replayed, progress, batches } = await replay<Payment>({ table: `${prefix}payments`, schema: 'payment.avsc', timeColumn: 'ts', from, to, batchSize: 97, eventTime: (p) => p.ts });

    const expected = records
      .filter((r) => r.value.ts >= from && r.value.ts < to)
      .sort((a, b) => a.value.ts - b.value.ts || a.partition - b.partition || Number(a.offset) - Number(b.offset));
    assert.ok(expected.length > 2_000);
    assert.equal(replayed.length, expected.length, 'each stored event once');
    assert.deepEqual(replayed.map((r) => [r.topic, r.partition, r.offset, r.eventTime]), expected.map((r) => [r.topic, r.partition, r.offset, r.value.ts]));
    // 18.16 parses JSON doubles to within an ulp: amounts are compared in cents, the rest exactly.
    const cents = (p: Payment) => ({ ...p, amount: Math.round(p.amount * 100) });
    assert.deepEqual(replayed.map((r) => cents(r.value)), expected.map((r) => cents(r.value)));
    assert.ok(replayed.every((r) => typeof r.value.ts === 'number' && r.key === ''));
    const { plan, total } = await replaySpec.prepare(SCHEMAS_DIR);
    assert.equal(plan.final, true, 'a ReplacingMergeTree is read with FINAL');
    assert.equal(plan.provenance, true);
    assert.equal(total, expected.length);
    assert.deepEqual(progress.at(-1), { read: expected.length, deadLetters: 0, total: expected.length });
    assert.ok(batches.every((b) => b.records.length <= 400 && b.partitionKey === `replay:${prefix}payments`));
  });

  test('maxEventsPerSecond holds the replay to the rate: about 1,000 events at 4,000/s take at least a quarter second, the same events as unpaced', async () => {
    const options = { table: `${prefix}payments`, schema: 'payment.avsc', timeColumn: 'ts', from: START, to: START + 400_000, batchSize: 500, eventTime: (p: Payment) => p.ts };
    const unpaced = await replay<Payment>(options);
    const count = records.filter((r) => r.value.ts >= options.from && r.value.ts < options.to).length;
    assert.ok(Math.abs(count - 1_000) < 10 && unpaced.records.length === count, `${unpaced.records.length} of ${count} events`);
    const started = performance.now();
    const paced = await replay<Payment>({ ...options, maxEventsPerSecond: 4_000 });
    const ms = performance.now() - started;
    assert.ok(ms >= (count / 4_000) * 1_000 - 1, `${ms.toFixed(0)} ms for ${count} events at 4,000/s`);
    assert.deepEqual(paced.records.map((r) => [r.partition, r.offset]), unpaced.records.map((r) => [r.partition, r.offset]));
    assert.throws(() => clickhouseReplay<Payment>({ ...options, maxEventsPerSecond: 0, outOfOrdernessMs: 0, clickhouse: async () => client }), /maxEventsPerSecond/);
  });

  test('every stored type comes back as written; a field added since is read as its default', async () => {
    const fields = [
      { name: 'id', type: 'string' },
      { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'n', type: 'int' },
      { name: 'big', type: 'long' },
      { name: 'ratio', type: 'float' },
      { name: 'x', type: 'double' },
      { name: 'ok', type: 'boolean' },
      { name: 'blob', type: 'bytes' },
      { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] } },
      { name: 'list', type: { type: 'array', items: 'long' } },
      { name: 'note', type: ['null', 'string'], default: null },
      { name: 'score', type: ['null', 'double'], default: null },
    ];
    const schema = { type: 'record', name: 'Typed', fields };
    const values = Array.from({ length: 40 }, (_, i) => ({
      id: `r${i}`, at: START + i * 1000, n: i - 20, big: 2 ** 50 + i, ratio: Math.fround(i / 8), x: i % 5 === 0 ? NaN : i % 7 === 0 ? -Infinity : i / 4,
      ok: i % 2 === 0, blob: Buffer.from([i, 255 - i, 0]), kind: i % 3 ? 'A' : 'B', list: [i, 2 ** 40], note: i % 4 ? `n${i}` : null, score: i % 3 ? null : i * 0.5,
    }));
    // The sink reads its schema from a file: a temporary schemas folder.
    const dir = await mkdtemp(join(tmpdir(), 'replay-schema-'));
    try {
      await writeFile(join(dir, 'typed.avsc'), JSON.stringify(schema));
      const sinkEnv = { ...env, schemasDir: dir };
      const sink = clickhouseTable<(typeof values)[number]>(`${prefix}typed`, { schema: 'typed.avsc', orderBy: ['at'] }).create(sinkEnv);
      await sink.open();
      sink.write(values.map((value) => ({ value, key: '', eventTime: value.at, topic: '', partition: -1, offset: '' })), []);
      await sink.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const evolved = { ...schema, fields: [...fields, { name: 'added', type: 'string', default: 'none' }] };
    const { records, spec } = await replay<Record<string, unknown>>({ table: `${prefix}typed`, schema: evolved, timeColumn: 'at', from: START, to: START + 3_600_000, batchSize: 7, eventTime: (v) => v.at as number });
    assert.deepEqual(records.map((r) => r.value), values.map((v) => ({ ...v, added: 'none' })));
    assert.deepEqual(records.map((r) => [r.topic, r.partition, r.offset]), values.map((_, i) => [`replay:${prefix}typed`, 0, String(i)]));
    const { plan } = await spec.prepare(SCHEMAS_DIR);
    assert.deepEqual([plan.final, plan.provenance], [false, false], 'a plain MergeTree without provenance');
  });

  test('stopped midway, the replay hands on nothing more and does not end the input', async () => {
    const spec = clickhouseReplay<Payment>({ table: `${prefix}payments`, schema: 'payment.avsc', timeColumn: 'ts', from: START, to: START + 3_600_000, batchSize: 50, eventTime: (p) => p.ts, outOfOrdernessMs: 0, clickhouse: async () => client });
    const source = spec.create({ topology: 't', logger: silentLogger, metrics: new Metrics(), schemasDir: SCHEMAS_DIR, groupId: 'g', commitIntervalMs: 1000, maxChunkRecords: 50 });
    let pushed = 0;
    let ended = false;
    let stopping: Promise<void> | undefined;
    await source.start({
      logger: silentLogger, metrics: new Metrics(), topology: 't', assigned: () => {}, fail: (error) => assert.fail(String(error)), end: () => (ended = true),
      push: async () => {
        if (++pushed === 3) stopping = source.stop();
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await stopping;
    assert.equal(pushed, 3);
    assert.equal(ended, false);
  });

  test('a missing table, a missing column without default, and a bad time column fail with ConfigError', async () => {
    const base = { schema: 'payment.avsc', timeColumn: 'ts', from: START, to: START + 1, eventTime: (p: Payment) => p.ts, outOfOrdernessMs: 0, clickhouse: async () => client };
    await assert.rejects(clickhouseReplay<Payment>({ ...base, table: `${prefix}nope` }).prepare(SCHEMAS_DIR), /table .*nope does not exist/);
    const extra = { type: 'record', name: 'P', fields: [{ name: 'ts', type: 'long' }, { name: 'missing', type: 'string' }] };
    await assert.rejects(clickhouseReplay<Payment>({ ...base, table: `${prefix}payments`, schema: extra }).prepare(SCHEMAS_DIR), /has no column missing of the schema/);
    await assert.rejects(clickhouseReplay<Payment>({ ...base, table: `${prefix}payments`, timeColumn: 'amount' }).prepare(SCHEMAS_DIR), /"amount" is Float64/);
    assert.throws(() => clickhouseReplay<Payment>({ ...base, table: `${prefix}payments`, to: START }), /is not after from/);
  });
}
