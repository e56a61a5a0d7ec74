import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { readInsert, type ExecParams } from '../helpers/fake-clickhouse.ts';
import { AckToken } from '../../src/core/ack.ts';
import type { DeadLetter, LateRecord, StreamRecord } from '../../src/core/batch.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { ClickHouseSink } from '../../src/sinks/clickhouse/clickhouse-sink.ts';
import { connectClickHouse } from '../../src/clickhouse/connection.ts';
import { clickhouseDeadLetters } from '../../src/sinks/clickhouse/dead-letter-table.ts';
import { clickhouseLateRecords } from '../../src/sinks/clickhouse/late-table.ts';
import { clickhouseTable } from '../../src/sinks/clickhouse/table-sink.ts';
import type { Sink, SinkEnvironment } from '../../src/sinks/sink.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';

const schemasDir = fileURLToPath(new URL('../../schemas', import.meta.url));
const T0 = 1_700_000_000_000; // 2023-11-14 22:13:20 UTC

/**
 * The same suite runs against the 18.16 server (CLICKHOUSE_URL, required), which inserts
 * JSONEachRow objects, and embedded chDB, which inserts JSONCompactEachRow arrays: the exact
 * values asserted below hold for both encodings.
 */
type Format = 'JSONEachRow' | 'JSONCompactEachRow';
const targets: Array<{ label: string; format: Format; connect: () => Promise<ClickHouseClient>; cleanup?: () => Promise<void> }> = [];
let chdbDir = '';
targets.push({
  label: 'ClickHouse server over HTTP (CLICKHOUSE_URL)',
  format: 'JSONEachRow', // 18.16 has no JSONCompactEachRow
  connect: () => {
    const url = process.env.CLICKHOUSE_URL;
    if (!url) throw new Error('CLICKHOUSE_URL is not set: run the integration tests through scripts/test.sh, which starts ClickHouse');
    return connectClickHouse({ url, logger: silentLogger });
  },
});
targets.push({
  label: 'embedded chDB',
  format: 'JSONCompactEachRow',
  connect: async () => connectClickHouse({ dataDir: (chdbDir = await mkdtemp(join(tmpdir(), 'tributary-chdb-'))), logger: silentLogger }),
  cleanup: () => rm(chdbDir, { recursive: true, force: true }),
});

for (const target of targets) describe(target.label, () => sinkSuite(target.format, target.connect, target.cleanup));

function sinkSuite(format: Format, connect: () => Promise<ClickHouseClient>, cleanup?: () => Promise<void>): void {
  const suffix = randomBytes(4).toString('hex');
  const tables = { format: `format_${suffix}`, payments: `payments_${suffix}`, features: `card_features_${suffix}`, dead: `dead_letters_${suffix}`, late: `late_${suffix}`, bad: `bad_${suffix}`, types: `types_${suffix}` };
  let client: ClickHouseClient;
  /** FORMAT of every INSERT the sinks sent, by table. */
  const inserts: Array<{ table: string; format: string; rows: number; chunks: number }> = [];
  const fatal: unknown[] = [];
  let env: SinkEnvironment;
  const rows = async <T,>(query: string): Promise<T[]> => (await client.query({ query, format: 'JSONEachRow' })).json<T>();

  before(async () => {
    client = await connect();
    env = {
      topology: 'it-clickhouse', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => recordingInserts(client, inserts),
      state: () => Promise.reject(new Error('no state store in this test')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('no Kafka in this test')), schemasDir,
      fail: (error) => void fatal.push(error),
    };
  });

  after(async () => {
    if (client) {
      for (const table of Object.values(tables)) await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
      await client.close();
    }
    await cleanup?.();
  });

  test(`inserts use ${format}, and every insert of this suite did`, async () => {
    const sink = clickhouseTable<Payment>(tables.format, { schema: 'payment.avsc', orderBy: ['ts'] }).create(env);
    assert.ok(sink instanceof ClickHouseSink); // insertFormat says what open() chose
    await sink.open();
    assert.equal(sink.insertFormat, format);
    sink.write([record(payment(3), 'payments', 0, '3')], []);
    await sink.close();
    assert.deepEqual(inserts, [{ table: `\`${tables.format}\``, format, rows: 1, chunks: 1 }]);
    const [row] = await rows<Record<string, unknown>>(`SELECT * FROM ${tables.format}`);
    assert.deepEqual(numbers('ts')(row!), payment(3));
  });

  after(() => {
    // The other tests wrote through the same client: none of them used the other format.
    assert.deepEqual([...new Set(inserts.map((i) => i.format))], [format]);
    assert.deepEqual(new Set(inserts.map((i) => i.table)), new Set(Object.values(tables).map((t) => `\`${t}\``)));
  });

  test('payments: 25,000 records in 250 writes arrive exactly, with provenance and readable times', async () => {
    const sink = clickhouseTable<Payment>(tables.payments, { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', provenance: true, maxRows: 4000, maxDelayMs: 20 }).create(env);
    await sink.open();
    const payments = Array.from({ length: 25_000 }, (_, i) => payment(i));
    const acked = await writeInChunks(sink, payments.map((p, i) => record(p, 'payments', i % 3, String(1_000_000 + i))), 100);
    await sink.flush();
    assert.equal(acked.completed, 250);
    // Inserts of thousands of rows (about 200 characters of JSON each) each went as one body.
    const mine = inserts.filter((i) => i.table === `\`${tables.payments}\``);
    assert.equal(mine.reduce((sum, i) => sum + i.rows, 0), 25_000);
    assert.ok(mine.every((i) => i.chunks === 1), `inserts: ${JSON.stringify(mine)}`);

    const [totals] = await rows<{ n: string | number; total: number }>(`SELECT count() AS n, sum(amount) AS total FROM ${tables.payments}`);
    assert.equal(Number(totals!.n), 25_000);
    assert.equal(totals!.total, payments.reduce((sum, p) => sum + p.amount, 0));

    const found = await rows<Record<string, unknown>>(
      `SELECT paymentId, cardId, merchantId, amount, currency, country, ts, toUnixTimestamp(ts_time) AS tsSeconds, toString(ts_time, 'UTC') AS tsText, _topic, _partition, _offset
       FROM ${tables.payments} WHERE paymentId IN ('p-00000', 'p-00007', 'p-24999') ORDER BY paymentId`,
    );
    assert.deepEqual(found.map(numbers('ts', 'tsSeconds', '_partition', '_offset')), [
      { ...payment(0), tsSeconds: 1_700_000_000, tsText: '2023-11-14 22:13:20', _topic: 'payments', _partition: 0, _offset: 1_000_000 },
      { ...payment(7), tsSeconds: Math.floor(payment(7).ts / 1000), tsText: '2023-11-14 22:13:28', _topic: 'payments', _partition: 1, _offset: 1_000_007 },
      { ...payment(24_999), tsSeconds: Math.floor(payment(24_999).ts / 1000), tsText: utcText(payment(24_999).ts), _topic: 'payments', _partition: 0, _offset: 1_024_999 },
    ]);

    // 18.16 lists ALIAS columns after the stored ones, chDB in declaration order.
    const columns = await rows<{ name: string; type: string; default_type: string }>(`DESCRIBE TABLE ${tables.payments}`);
    assert.deepEqual(columns.filter((c) => c.default_type === '').map((c) => `${c.name} ${c.type}`), [
      'paymentId String', 'cardId String', 'merchantId String', 'amount Float64', 'currency String', 'country String',
      'ts Int64', '_topic String', '_partition Int32', '_offset Int64',
    ]);
    assert.deepEqual(columns.filter((c) => c.default_type !== '').map((c) => `${c.name} ${c.type} ${c.default_type}`), ['ts_time DateTime ALIAS']);
    const partitions = await rows<{ partition: string }>(`SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = '${tables.payments}' AND active ORDER BY partition`);
    assert.deepEqual(partitions.map((p) => p.partition), ['20231114', '20231115']);
    await sink.close();
  });

  test('card features: toRow output, derived records (_offset -1) and 64-bit counts', async () => {
    const sink = clickhouseTable<{ card: string; end: number; n: number; total: number }>(tables.features, {
      schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', provenance: true,
      toRow: ({ value: v }) => ({ cardId: v.card, windowStart: v.end - 300_000, windowEnd: v.end, count1m: v.n, sum1m: v.total, max1m: v.total, count5m: v.n * 5, sum5m: v.total * 5, max5m: v.total }),
    }).create(env);
    await sink.open();
    const values = [{ card: 'card-1', end: T0 + 60_000, n: 3, total: 10.5 }, { card: 'card-2', end: T0 + 120_000, n: 2 ** 52, total: -0.125 }];
    const acked = await writeInChunks(sink, values.map((v) => record(v, '', -1, '')), 1);
    await sink.flush();
    assert.equal(acked.completed, 2);
    const found = await rows<Record<string, unknown>>(`SELECT cardId, windowStart, windowEnd, count1m, sum1m, count5m, toString(windowEnd_time, 'UTC') AS endText, _topic, _partition, _offset FROM ${tables.features} ORDER BY cardId`);
    assert.deepEqual(found.map(numbers('windowStart', 'windowEnd', 'count1m', 'count5m', '_partition', '_offset')), [
      { cardId: 'card-1', windowStart: T0 - 240_000, windowEnd: T0 + 60_000, count1m: 3, sum1m: 10.5, count5m: 15, endText: '2023-11-14 22:14:20', _topic: '', _partition: -1, _offset: -1 },
      { cardId: 'card-2', windowStart: T0 - 180_000, windowEnd: T0 + 120_000, count1m: 2 ** 52, sum1m: -0.125, count5m: 5 * 2 ** 52, endText: '2023-11-14 22:15:20', _topic: '', _partition: -1, _offset: -1 },
    ]);
    await sink.close();
  });

  test('every Avro type mapping creates and round-trips on this server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-schemas-'));
    await writeFile(join(dir, 'everything.avsc'), JSON.stringify(EVERYTHING_SCHEMA));
    const sink = clickhouseTable<Record<string, unknown>>(tables.types, { schema: 'everything.avsc', orderBy: ['id'] }).create({ ...env, schemasDir: dir });
    await sink.open();
    await rm(dir, { recursive: true });
    const base = { small: -7, ratio: 0.5, kind: 'A', otherKind: 'B', tags: ['x', 'y'] };
    sink.write([
      record({ ...base, id: 'a', flag: true, maybeFlag: null, big: 2n ** 62n, score: Number.NaN, blob: Uint8Array.from([0, 255]), maybeTags: null, seenAt: new Date(T0), note: null }, 't', 0, '1'),
      record({ ...base, id: 'b', flag: false, maybeFlag: false, big: 5, score: -Infinity, blob: new Uint8Array(0), maybeTags: [1, 2], seenAt: null, note: "it's" }, 't', 0, '2'),
      // Fields a row lacks: an absent key in JSONEachRow, null in JSONCompactEachRow; both the column default.
      record({ id: 'c', flag: true, big: 1, ratio: 2, score: 3, blob: 'x' }, 't', 0, '3'),
    ], []);
    await sink.close();
    const found = await rows<Record<string, unknown>>(
      `SELECT id, flag, maybeFlag, small, toString(big) AS big, ratio, toString(score) AS score, blob, kind, otherKind, tags, arrayMap(x -> toString(x), maybeTags) AS maybeTags, seenAt, toString(seenAt_time, 'UTC') AS seenText, note FROM ${tables.types} ORDER BY id`,
    );
    assert.deepEqual(found.map((row) => ({ ...row, seenAt: row.seenAt === null ? null : Number(row.seenAt) })), [
      { ...base, id: 'a', flag: 1, maybeFlag: null, big: '4611686018427387904', score: 'nan', blob: 'AP8=', maybeTags: [], seenAt: T0, seenText: '2023-11-14 22:13:20', note: null },
      { ...base, id: 'b', flag: 0, maybeFlag: 0, big: '5', score: '-inf', blob: '', maybeTags: ['1', '2'], seenAt: null, seenText: null, note: "it's" },
      { id: 'c', flag: 1, maybeFlag: null, small: 0, big: '1', ratio: 2, score: '3', blob: 'x', kind: '', otherKind: '', tags: [], maybeTags: [], seenAt: null, seenText: null, note: null },
    ]);
    const [comment] = await rows<{ comment: string }>(`SELECT comment FROM system.columns WHERE database = currentDatabase() AND table = '${tables.types}' AND name = 'seenAt'`);
    assert.equal(comment!.comment, "When it's seen, or null");
  });

  test('dead letters keep every original byte, including non-UTF-8', async () => {
    const bytes = Uint8Array.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x0a, 0x22, 0x5c, 0xed, 0xa0, 0x80]);
    const backing = Buffer.concat([Buffer.from('prefix'), bytes]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 6, bytes.length); // a view with a byteOffset, as sources hand out
    const letters: DeadLetter[] = [
      { step: 'decode', topic: 'payments', partition: 2, offset: '9007199254740993', error: 'invalid union index 7', raw: view, key: 'card-9', timestamp: T0 },
      { step: 'enrich', topic: 'payments', partition: 0, offset: '12', error: 'lookup "failed"\nline 2', raw: null },
    ];
    const sink = clickhouseDeadLetters(tables.dead).create(env);
    await sink.open();
    const acked = await writeInChunks(sink, letters, 2);
    await sink.flush();
    assert.equal(acked.completed, 1);
    const found = await rows<Record<string, unknown>>(`SELECT topology, step, topic, partition, offset, error, raw_base64, raw_size, key, event_timestamp, toUnixTimestamp(ingested_at) AS ingested FROM ${tables.dead} ORDER BY partition DESC`);
    assert.equal(found.length, 2);
    const now = Date.now() / 1000;
    for (const row of found) assert.ok(Math.abs(Number(row.ingested) - now) < 600, `ingested_at ${row.ingested} is the insert time`);
    assert.deepEqual(Buffer.from(String(found[0]!.raw_base64), 'base64'), Buffer.from(bytes));
    assert.deepEqual(found.map(({ ingested: _, ...row }) => numbers('partition', 'raw_size', 'event_timestamp')(row)), [
      { topology: 'it-clickhouse', step: 'decode', topic: 'payments', partition: 2, offset: '9007199254740993', error: 'invalid union index 7', raw_base64: Buffer.from(bytes).toString('base64'), raw_size: 12, key: 'card-9', event_timestamp: T0 },
      { topology: 'it-clickhouse', step: 'enrich', topic: 'payments', partition: 0, offset: '12', error: 'lookup "failed"\nline 2', raw_base64: '', raw_size: 0, key: '', event_timestamp: 0 },
    ]);
    await sink.close();
  });

  test('late records round-trip with their payload and a readable event time', async () => {
    const late: LateRecord[] = [
      { step: 'features-1m', key: 'card-3', eventTime: T0 + 1_500, watermark: T0 + 70_000, topic: 'payments', partition: 1, offset: '77', value: { amount: 12.5, note: 'Zürich "late"', tags: ['a'] } },
    ];
    const sink = clickhouseLateRecords(tables.late).create(env);
    await sink.open();
    const acked = await writeInChunks(sink, late, 1);
    await sink.close();
    assert.equal(acked.completed, 1);
    const found = await rows<Record<string, unknown>>(`SELECT topology, step, key, event_time, toString(event_time_time, 'UTC') AS eventText, watermark, topic, partition, offset, payload FROM ${tables.late}`);
    assert.deepEqual(found.map(numbers('event_time', 'watermark', 'partition')), [
      { topology: 'it-clickhouse', step: 'features-1m', key: 'card-3', event_time: T0 + 1_500, eventText: '2023-11-14 22:13:21', watermark: T0 + 70_000, topic: 'payments', partition: 1, offset: '77', payload: JSON.stringify(late[0]!.value) },
    ]);
  });

  test('rows the server rejects stop the sink through onFatal with the server message', async () => {
    const sink = clickhouseTable<Payment>(tables.bad, { schema: 'payment.avsc', orderBy: ['ts'], toRow: (r) => ({ ...r.value, amount: 'not a number' }) }).create(env);
    await sink.open();
    sink.write([record(payment(1), 'payments', 0, '1')], []);
    await assert.rejects(sink.flush(), { name: 'SinkError', retriable: false, message: /Cannot parse/i });
    assert.equal(fatal.length, 1);
    assert.match((fatal[0] as Error).message, new RegExp(`sink clickhouse:${tables.bad}: inserting 1 rows`));
  });
}

const EVERYTHING_SCHEMA = {
  type: 'record', name: 'Everything', fields: [
    { name: 'id', type: 'string' },
    { name: 'flag', type: 'boolean' },
    { name: 'maybeFlag', type: ['null', 'boolean'] },
    { name: 'small', type: 'int' },
    { name: 'big', type: 'long' },
    { name: 'ratio', type: 'float' },
    { name: 'score', type: 'double' },
    { name: 'blob', type: 'bytes' },
    { name: 'kind', type: { type: 'enum', name: 'Kind', namespace: 'dev.tributary.test', symbols: ['A', 'B'] } },
    { name: 'otherKind', type: 'dev.tributary.test.Kind' },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'maybeTags', type: ['null', { type: 'array', items: 'long' }] },
    { name: 'seenAt', type: ['null', { type: 'long', logicalType: 'timestamp-millis' }], doc: "When it's seen, or null" },
    { name: 'note', type: ['null', 'string'] },
  ],
};

function payment(i: number): Payment {
  return {
    paymentId: `p-${String(i).padStart(5, '0')}`,
    cardId: `card-${i % 97}`,
    merchantId: i === 7 ? 'Café "Ü" \\ \n\t€' : `m-${i % 13}`,
    amount: ((i % 400) + 1) * 0.25,
    currency: ['EUR', 'USD', 'GBP'][i % 3]!,
    country: ['DE', 'FR', 'GB', 'US'][i % 4]!,
    ts: T0 + i * 1_237,
  };
}

/** The client, with each insert's table and FORMAT appended to `log` (as sent on the wire). */
function recordingInserts(client: ClickHouseClient, log: Array<{ table: string; format: string; rows: number; chunks: number }>): ClickHouseClient {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'exec') {
        return async (params: ExecParams) => {
          const insert = await readInsert(params);
          if (insert === undefined) return target.exec(params as Parameters<ClickHouseClient['exec']>[0]);
          log.push({ table: insert.table, format: insert.format, rows: insert.values.length, chunks: insert.chunks });
          return target.exec({ ...params, values: Readable.from([insert.body]) } as Parameters<ClickHouseClient['exec']>[0]);
        };
      }
      if (property === 'insert') assert.fail('the sinks insert through exec (a streamed body)');
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function record<T>(value: T, topic: string, partition: number, offset: string): StreamRecord<T> {
  return { value, key: '', eventTime: 0, topic, partition, offset };
}

/** Writes in chunks of `size`, one ack token per chunk as a source would; counts completed tokens. */
async function writeInChunks<T>(sink: Sink<T>, items: T[], size: number): Promise<{ completed: number }> {
  const acked = { completed: 0 };
  for (let i = 0; i < items.length; i += size) {
    const token = new AckToken('test-0', BigInt(i), size, () => acked.completed++);
    sink.write(items.slice(i, i + size), [token]);
    token.release();
    if (sink.isFull()) await sink.whenReady();
  }
  return acked;
}

/** 18.16 returns 64-bit integers as JSON strings, chDB as numbers: compare both as numbers. */
function numbers(...keys: string[]): (row: Record<string, unknown>) => Record<string, unknown> {
  return (row) => {
    const copy = { ...row };
    for (const key of keys) copy[key] = Number(copy[key]);
    return copy;
  };
}

function utcText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
