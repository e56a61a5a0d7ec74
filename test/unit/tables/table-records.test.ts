import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createDecoder } from '../../../src/serde/create-decoder.ts';
import { createAvroEncoder } from '../../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../../src/serde/schema-registry.ts';
import type { KafkaMessage } from '../../../src/kafka/kafka-client.ts';
import { lookupTable } from '../../../src/tables/lookup-table.ts';
import { applyMessages } from '../../../src/tables/table-records.ts';
import { CatchUp } from '../../../src/tables/catch-up.ts';
import type { Payment } from '../../../src/sources/generator/card-payments.ts';

const NOW = 1_800_000_000_000;
const json = createDecoder<{ id: string; tier: string }>({ format: 'json' });

function message(offset: number, key: string | null, value: unknown, timestamp = NOW): KafkaMessage {
  const bytes = value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value));
  return { offset: String(offset), key: key === null ? null : Buffer.from(key), value: bytes, timestamp: String(timestamp) };
}

test('messages apply in offset order: latest wins, a tombstone deletes, the timestamp starts the TTL', () => {
  const table = lookupTable<{ id: string; tier: string }>({ name: 'merchants', ttl: '1h', clock: () => NOW });
  const result = applyMessages(table, { decoder: json }, [
    message(0, 'm1', { id: 'm1', tier: 'low' }),
    message(1, 'm2', { id: 'm2', tier: 'medium' }),
    message(2, 'm1', { id: 'm1', tier: 'high' }),
    message(3, 'm2', null),
    message(4, 'm3', { id: 'm3', tier: 'low' }, NOW - 3_600_000), // written an hour ago: expired
  ], 0n);
  assert.deepEqual(result, { updates: 4, deletes: 1, invalid: [], nextOffset: 5n });
  assert.deepEqual(table.get('m1'), { id: 'm1', tier: 'high' });
  assert.equal(table.get('m2'), undefined);
  assert.equal(table.get('m3'), undefined);
});

test('undecodable records, null values and records without a key are reported and skipped, never thrown', () => {
  const table = lookupTable<{ id: string; tier: string }>({ name: 'merchants', clock: () => NOW });
  const result = applyMessages(table, { decoder: json }, [
    message(0, 'm1', Buffer.from('{"id": "m1", tier')),
    message(1, 'm2', { id: 'm2', tier: 'low' }),
    message(2, null, { id: 'm3', tier: 'low' }),
    message(3, null, null),
    message(4, 'm4', Buffer.from('null')),
  ], 0n);
  assert.equal(result.updates, 1);
  assert.equal(result.deletes, 0);
  assert.deepEqual(result.invalid.map((i) => i.offset), ['0', '2', '3', '4']);
  assert.match(result.invalid[0]!.error, /JSON/);
  assert.match(result.invalid[1]!.error, /a record without a message key/);
  assert.match(result.invalid[2]!.error, /a tombstone without a message key/);
  assert.match(result.invalid[3]!.error, /null/);
  assert.deepEqual([...['m1', 'm2', 'm3', 'm4'].map((k) => table.has(k))], [false, true, false, false]);
});

test('a key function of the value replaces the message key; one that throws or returns nothing skips the record', () => {
  const table = lookupTable<{ id: string; tier: string }>({ name: 'merchants', clock: () => NOW });
  const key = (v: { id: string }) => {
    if (v.id === 'boom') throw new Error('no id today');
    return v.id;
  };
  const result = applyMessages(table, { decoder: json, key }, [
    message(0, null, { id: 'm1', tier: 'low' }),
    message(1, 'x', { id: 'boom', tier: 'low' }),
    message(2, 'x', { id: '', tier: 'low' }),
    message(3, 'm1', null), // tombstones use the message key
  ], 0n);
  assert.equal(result.updates, 1);
  assert.equal(result.deletes, 1);
  assert.deepEqual(result.invalid.map((i) => [i.offset, i.error]), [['1', 'no id today'], ['2', 'the key function returned "", not a non-empty string or number']]);
  assert.equal(table.size, 0);
});

test('messages before `from` were applied already and are skipped (a re-read never goes back to older values)', () => {
  const table = lookupTable<{ id: string; tier: string }>({ name: 'merchants', clock: () => NOW });
  const messages = [message(0, 'm1', { id: 'm1', tier: 'low' }), message(1, 'm1', { id: 'm1', tier: 'high' })];
  applyMessages(table, { decoder: json }, messages, 0n);
  const again = applyMessages(table, { decoder: json }, messages.slice(0, 1), 2n);
  assert.deepEqual(again, { updates: 0, deletes: 0, invalid: [], nextOffset: 1n });
  assert.deepEqual(table.get('m1'), { id: 'm1', tier: 'high' });
});

test('Avro table records decode with the project decoders (Confluent wire format)', () => {
  const registry = LocalSchemaRegistry.fromDirectory(fileURLToPath(new URL('../../../schemas', import.meta.url)));
  const encoder = createAvroEncoder<Payment>({ wire: 'confluent', registry, schema: 'payment.avsc' });
  const payment: Payment = { paymentId: 'p1', cardId: 'c1', merchantId: 'm1', amount: 12.5, currency: 'EUR', country: 'DE', ts: NOW };
  const table = lookupTable<Payment>({ name: 'last-payment', clock: () => NOW });
  const decoder = createDecoder<Payment>({ format: 'avro-confluent', registry });
  const result = applyMessages(table, { decoder, key: (p) => p.cardId }, [message(7, null, encoder.encode(payment)), message(8, 'c2', Buffer.from([0, 0, 0, 0, 99, 1]))], 0n);
  assert.equal(result.updates, 1);
  assert.match(result.invalid[0]!.error, /unknown schema id 99/);
  assert.equal(table.get('c1')!.amount, 12.5);
});

test('catch-up: done once every partition reached the end offsets it had at start', async () => {
  const catchUp = new CatchUp([
    { partition: 0, low: '0', high: '3' },
    { partition: 1, low: '5', high: '5' }, // compacted or empty: nothing to read
    { partition: 2, low: '2', high: '4' },
  ]);
  assert.equal(catchUp.caughtUp, false);
  catchUp.advance(0, 2n);
  catchUp.advance(2, 4n);
  assert.deepEqual(catchUp.lagging(), [{ partition: 0, position: '2', end: '3' }]);
  catchUp.advance(0, 1n); // progress never goes back
  catchUp.advance(7, 100n); // a partition added later does not count
  assert.equal(catchUp.caughtUp, false);
  catchUp.advance(0, 3n);
  assert.equal(catchUp.caughtUp, true);
  await catchUp.done;
  assert.equal(new CatchUp([{ partition: 0, low: '0', high: '0' }]).caughtUp, true, 'an empty topic is caught up at once');
});
