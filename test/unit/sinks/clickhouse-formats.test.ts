import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { DeadLetter, StreamRecord } from '../../../src/core/batch.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { ClickHouseSink } from '../../../src/sinks/clickhouse/clickhouse-sink.ts';
import { clickhouseDeadLetters } from '../../../src/sinks/clickhouse/dead-letter-table.ts';
import { clickhouseTable } from '../../../src/sinks/clickhouse/table-sink.ts';
import type { SinkSpec } from '../../../src/sinks/sink.ts';
import { existingTable, fakeExec } from '../../helpers/fake-clickhouse.ts';

/**
 * Without a server: a fake client answers the dialect queries as 18.16 (no JSONCompactEachRow)
 * or as a current server, and keeps each insert. The arrays of the compact format, zipped with
 * the INSERT's columns, must equal the objects of JSONEachRow.
 */
interface Insert { columns: string[]; format: string; values: unknown[] }

function fakeClient(compact: boolean, inserts: Insert[]): ClickHouseClient {
  let ddl = '';
  const answer = (query: string): unknown[] => {
    if (query.includes('version()')) return [{ version: compact ? '26.7.2.1' : '18.16.1' }];
    if (query.includes('engine_full')) return [existingTable(ddl)];
    if (query.includes('system.tables')) return [{ name: 'formats' }];
    if (query.includes('system.formats')) return compact ? [{ name: 'JSONCompactEachRow' }] : [];
    return [];
  };
  const client = {
    query: async ({ query }: { query: string }) => ({ json: async () => answer(query) }),
    command: async ({ query }: { query: string }) => {
      ddl = query;
      return {};
    },
    exec: fakeExec(({ columns, format, values }) => inserts.push({ columns, format, values })),
  };
  return client as unknown as ClickHouseClient;
}

async function insertWith<T>(compact: boolean, spec: SinkSpec<T>, items: T[]): Promise<Insert> {
  const inserts: Insert[] = [];
  const client = fakeClient(compact, inserts);
  const sink = spec.create({
    topology: 'unit', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client,
    state: () => Promise.reject(new Error('unused')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('unused')),
    schemasDir: fileURLToPath(new URL('../../../schemas', import.meta.url)),
    fail: (error) => {
      throw error;
    },
  });
  assert.ok(sink instanceof ClickHouseSink);
  await sink.open();
  assert.equal(sink.insertFormat, compact ? 'JSONCompactEachRow' : 'JSONEachRow');
  sink.write(items, []);
  await sink.close();
  assert.equal(inserts.length, 1);
  return inserts[0]!;
}

/**
 * What the fake client received is the body as sent (each line parsed back): a missing field is
 * an absent key in a JSONEachRow object and null in a JSONCompactEachRow array, and both mean
 * the column default (checked against both servers in the integration suite).
 */
function nullsDropped(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((row) => Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null)));
}

/** The compact insert's arrays as objects keyed by its (unquoted) columns. */
function zipped(insert: Insert): Record<string, unknown>[] {
  const names = insert.columns.map((c) => c.replace(/^`|`$/g, ''));
  return insert.values.map((row) => {
    assert.ok(Array.isArray(row));
    assert.equal(row.length, names.length);
    return Object.fromEntries(names.map((name, i) => [name, row[i]]));
  });
}

const payments: StreamRecord<Record<string, unknown>>[] = [
  { value: { paymentId: 'p-1', cardId: 'c-1', merchantId: 'm "1"', amount: Number.NaN, currency: 'EUR', country: 'DE', ts: 1_700_000_000_123 }, key: '', eventTime: 0, topic: 'payments', partition: 2, offset: '9007199254740993' },
  { value: { paymentId: 'p-2', cardId: 'c-2', amount: 0.5, currency: 'USD', country: 'US', ts: 1_700_000_000_456n }, key: '', eventTime: 0, topic: '', partition: -1, offset: '' },
];

test('payments: the same values as JSONCompactEachRow arrays and as JSONEachRow objects', async () => {
  const spec = () => clickhouseTable('payments', { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', provenance: true });
  const objects = await insertWith(false, spec(), payments);
  const arrays = await insertWith(true, spec(), payments);
  assert.equal(objects.format, 'JSONEachRow');
  assert.equal(arrays.format, 'JSONCompactEachRow');
  assert.deepEqual(arrays.columns, objects.columns);
  const first = { paymentId: 'p-1', cardId: 'c-1', merchantId: 'm "1"', amount: 'NaN', currency: 'EUR', country: 'DE', ts: 1_700_000_000_123, _topic: 'payments', _partition: 2, _offset: '9007199254740993' };
  const second = { paymentId: 'p-2', cardId: 'c-2', amount: 0.5, currency: 'USD', country: 'US', ts: '1700000000456', _topic: '', _partition: -1, _offset: -1 };
  assert.deepEqual(objects.values, [first, second]);
  assert.deepEqual(zipped(arrays), [first, { ...second, merchantId: null }]);
  assert.equal(JSON.stringify(objects.values[1]), '{"paymentId":"p-2","cardId":"c-2","amount":0.5,"currency":"USD","country":"US","ts":"1700000000456","_topic":"","_partition":-1,"_offset":-1}');
  assert.equal(JSON.stringify(arrays.values[1]), '["p-2","c-2",null,0.5,"USD","US","1700000000456","",-1,-1]');
});

test('a toRow option and a plan without toValues (dead letters) encode alike in both formats', async () => {
  const spec = () => clickhouseTable<{ card: string }>('features', { schema: 'card_features.avsc', orderBy: ['cardId'], toRow: (r) => ({ cardId: r.value.card, windowStart: 1, windowEnd: 2, count1m: 3, sum1m: 4, max1m: 5, count5m: 6, sum5m: 7, max5m: 8 }) });
  const features = [{ value: { card: 'c-9' }, key: '', eventTime: 0, topic: '', partition: -1, offset: '' }];
  assert.deepEqual(nullsDropped(zipped(await insertWith(true, spec(), features))), (await insertWith(false, spec(), features)).values);

  const letters: DeadLetter[] = [{ step: 'decode', topic: 't', partition: 1, offset: '5', error: 'bad', raw: Uint8Array.from([0, 255]), key: 'k', timestamp: 9 }];
  const objects = await insertWith(false, clickhouseDeadLetters('dl'), letters);
  assert.deepEqual(objects.values, [{ topology: 'unit', step: 'decode', topic: 't', partition: 1, offset: '5', error: 'bad', raw_base64: 'AP8=', raw_size: 2, key: 'k', event_timestamp: 9 }]);
  assert.deepEqual(zipped(await insertWith(true, clickhouseDeadLetters('dl'), letters)), objects.values);
});
