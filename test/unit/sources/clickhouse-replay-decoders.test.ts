import { test } from 'node:test';
import assert from 'node:assert/strict';
import { avroFieldColumns } from '../../../src/clickhouse/avro-columns.ts';
import { fieldDecoders, timeFieldIndex } from '../../../src/sources/clickhouse-replay/row-decoders.ts';

/** Every type the table sink stores, read back: the inverse of avro-columns.ts. */
const SCHEMA = {
  type: 'record',
  name: 'Everything',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'small', type: 'int' },
    { name: 'big', type: 'long' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'us', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'ratio', type: 'float' },
    { name: 'amount', type: 'double' },
    { name: 'flag', type: 'boolean' },
    { name: 'blob', type: 'bytes' },
    { name: 'hash', type: { type: 'fixed', name: 'Hash', size: 4 } },
    { name: 'hash2', type: 'Hash' },
    { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] } },
    { name: 'counts', type: { type: 'array', items: 'long' } },
    { name: 'flags', type: { type: 'array', items: 'boolean' } },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'limit', type: ['null', 'long'], default: null },
    { name: 'tags', type: ['null', { type: 'array', items: 'string' }], default: null },
    { name: 'score', type: ['null', 'double'], default: null },
    { name: 'version', type: 'string', default: 'v0' },
    { name: 'seed', type: 'bytes', default: '\u00ff\u0001' },
  ],
};

/** Stores `value` as the table sink would, and reads it back as ClickHouse's JSON answers it. */
function throughClickHouse(value: Record<string, unknown>): unknown[] {
  return avroFieldColumns(SCHEMA).map((column) => {
    const stored = column.convert ? column.convert(value[column.name]) : value[column.name];
    return asClickHouseJson(stored, column.column.type);
  });
}

/** Int64 quoted (output_format_json_quote_64bit_integers=1), nan/inf quoted, the rest JSON. */
function asClickHouseJson(value: unknown, type: string): unknown {
  const inner = type.replace(/^Nullable\((.*)\)$/, '$1');
  if (inner.startsWith('Array(')) return (value as unknown[]).map((v) => asClickHouseJson(v, inner.slice(6, -1)));
  if (value === null) return null;
  if (inner === 'Int64') return String(value);
  if (inner.startsWith('Float') && typeof value === 'string') return value === 'NaN' ? 'nan' : value === 'Infinity' ? 'inf' : '-inf';
  if (inner === 'Float32') return Number((value as number).toPrecision(7)); // shortest float32 text
  return JSON.parse(JSON.stringify(value));
}

function decode(values: unknown[]): Record<string, unknown> {
  return Object.fromEntries(fieldDecoders(SCHEMA).map((d, i) => [d.name, d.decode(values[i])]));
}

const full = {
  id: 'x', small: -7, big: 9_007_199_254_740_991, ts: 1_767_225_600_123, us: 1_767_225_600_123_456, ratio: Math.fround(0.1), amount: 12.34,
  flag: true, blob: Buffer.from([0, 1, 2, 255]), hash: Buffer.from('abcd'), hash2: Buffer.from('wxyz'), kind: 'B', counts: [1, 2 ** 40],
  flags: [true, false], note: 'n', limit: 5, tags: ['a', 'b'], score: -0.5, version: 'v2', seed: Buffer.from([3]),
};

test('values come back as the Avro decoder gives them, for every stored type', () => {
  assert.deepEqual(decode(throughClickHouse(full)), full);
});

test('nulls stay null; a null array comes back empty (stored empty); NaN and infinities survive', () => {
  const value = { ...full, note: null, limit: null, tags: null, score: null, amount: NaN, ratio: -Infinity };
  assert.deepEqual(decode(throughClickHouse(value)), { ...value, tags: [] });
  const special = fieldDecoders(SCHEMA).find((d) => d.name === 'amount')!;
  assert.deepEqual(['nan', 'inf', '-inf', '+inf', 1.5].map(special.decode), [NaN, Infinity, -Infinity, Infinity, 1.5]);
});

test('unquoted 64-bit integers (chDB without the setting) and UInt8 booleans as numbers also read back', () => {
  const decoders = new Map(fieldDecoders(SCHEMA).map((d) => [d.name, d.decode]));
  assert.equal(decoders.get('big')!(42), 42);
  assert.equal(decoders.get('flag')!(0), false);
  assert.equal(decoders.get('flag')!(1), true);
});

test('defaults: decoded (bytes from code points), and absent where the schema gives none', () => {
  const byName = new Map(fieldDecoders(SCHEMA).map((d) => [d.name, d]));
  assert.equal(byName.get('version')!.defaultValue, 'v0');
  assert.deepEqual(byName.get('seed')!.defaultValue, Buffer.from([255, 1]));
  assert.equal(byName.get('note')!.defaultValue, null);
  assert.equal(byName.get('id')!.hasDefault, false);
});

test('the time column must be a non-null epoch-ms integer field of the schema', () => {
  const decoders = fieldDecoders(SCHEMA);
  assert.equal(timeFieldIndex(decoders, 'ts', 't'), 3);
  assert.equal(timeFieldIndex(decoders, 'big', 't'), 2);
  for (const [name, problem] of [['nope', /no field "nope"/], ['us', /in microseconds/], ['limit', /Nullable\(Int64\)/], ['amount', /Float64/]] as const) {
    assert.throws(() => timeFieldIndex(decoders, name, 'events'), (error: Error) => {
      assert.equal(error.name, 'ConfigError');
      assert.match(error.message, /clickhouse replay events time column/);
      assert.match(error.message, problem);
      assert.match(error.message, /name a timestamp-millis field: small, big, ts/);
      return true;
    });
  }
});

test('schemas no table could hold are refused with the sink’s reason', () => {
  assert.throws(() => fieldDecoders({ type: 'record', name: 'M', fields: [{ name: 'm', type: { type: 'map', values: 'string' } }] }), /Avro map/);
});
