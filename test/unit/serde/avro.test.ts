import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Type } from 'avsc';
import { ConfigError, DecodeError } from '../../../src/core/errors.ts';
import { createAvroDecoder, createAvroEncoder } from '../../../src/serde/avro.ts';
import { EncodeError } from '../../../src/serde/encode-error.ts';
import { LocalSchemaRegistry } from '../../../src/serde/schema-registry.ts';
import { confluentHeader, toPlain } from '../../fixtures/serde/avro-bytes.ts';
import type { Payment } from '../../../src/sources/generator/card-payments.ts';

const registry = LocalSchemaRegistry.fromDirectory(fileURLToPath(new URL('../../../schemas', import.meta.url)));

const payment: Payment = {
  paymentId: 'p-1',
  cardId: 'card-42',
  merchantId: 'm-7',
  amount: 129.99,
  currency: 'EUR',
  country: 'FR',
  ts: 1_700_000_123_456,
};

const confluentEncoder = createAvroEncoder<Payment>({ wire: 'confluent', registry, schema: 'payment.avsc' });
const binaryEncoder = createAvroEncoder<Payment>({ wire: 'binary', registry, schema: 'payment.avsc' });
const confluentDecoder = createAvroDecoder<Payment>({ wire: 'confluent', registry });
const binaryDecoder = createAvroDecoder<Payment>({ wire: 'binary', registry, schema: 'payment.avsc' });

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof DecodeError, `expected DecodeError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected decode to throw');
}

test('payments round-trip through the Confluent wire, timestamp as epoch ms', () => {
  const bytes = confluentEncoder.encode(payment);
  const decoded = confluentDecoder.decode(bytes);
  assert.deepEqual(toPlain(decoded), payment);
  assert.equal(typeof decoded.ts, 'number');
  assert.equal(confluentDecoder.format, 'avro-confluent');
});

test('payments round-trip through the bare binary wire', () => {
  const bytes = binaryEncoder.encode(payment);
  assert.deepEqual(toPlain(binaryDecoder.decode(bytes)), payment);
  assert.equal(binaryDecoder.format, 'avro');
});

test('the Confluent encoding is the 5-byte header then exactly the binary body', () => {
  const confluent = confluentEncoder.encode(payment);
  const binary = binaryEncoder.encode(payment);
  assert.deepEqual([...confluent.subarray(0, 5)], [0, 0, 0, 0, 1]);
  assert.deepEqual(confluent.subarray(5), binary);
  assert.equal(confluent.length, binary.length + 5);
});

test('the schema id in the header picks the writer schema', () => {
  const features = {
    cardId: 'card-42',
    windowStart: 1_700_000_000_000,
    windowEnd: 1_700_000_300_000,
    count1m: 3,
    sum1m: 10.5,
    max1m: 7,
    count5m: 9,
    sum5m: 40.25,
    max5m: 12,
    featureVersion: 'v1',
  };
  const bytes = createAvroEncoder({ wire: 'confluent', registry, schema: 'card_features.avsc' }).encode(features);
  assert.deepEqual([...bytes.subarray(0, 5)], confluentHeader(2));
  const decoder = createAvroDecoder<unknown>({ wire: 'confluent', registry });
  assert.deepEqual(toPlain(decoder.decode(bytes)), features);
  assert.deepEqual(toPlain(decoder.decode(confluentEncoder.encode(payment))), payment);
});

test('decoding works on a Buffer that is a view into a larger one', () => {
  const bytes = confluentEncoder.encode(payment);
  const larger = Buffer.concat([Buffer.from([9, 9, 9]), bytes, Buffer.from([9])]);
  assert.deepEqual(toPlain(confluentDecoder.decode(larger.subarray(3, 3 + bytes.length))), payment);
});

test('header problems: empty, bad magic byte, short header, unknown schema id', () => {
  assert.equal(codeOf(() => confluentDecoder.decode(Buffer.alloc(0))), 'EMPTY');
  const body = binaryEncoder.encode(payment);
  assert.equal(codeOf(() => confluentDecoder.decode(Buffer.concat([Buffer.from([1, 0, 0, 0, 1]), body]))), 'BAD_MAGIC_BYTE');
  assert.equal(codeOf(() => confluentDecoder.decode(Buffer.from([0, 0, 0]))), 'MALFORMED');
  assert.throws(
    () => confluentDecoder.decode(Buffer.from([...confluentHeader(99), ...body])),
    (error: DecodeError) => error.code === 'UNKNOWN_SCHEMA_ID' && error.message === 'avro-confluent: unknown schema id 99',
  );
});

test('truncated, malformed and trailing bytes are DecodeErrors with their codes', () => {
  const bytes = confluentEncoder.encode(payment);
  for (let length = 5; length < bytes.length; length++) {
    assert.equal(codeOf(() => confluentDecoder.decode(bytes.subarray(0, length))), 'MALFORMED', `cut at ${length}`);
  }
  assert.throws(
    () => confluentDecoder.decode(Buffer.concat([bytes, Buffer.from([0])])),
    (error: DecodeError) =>
      error.code === 'TRAILING_BYTES' &&
      error.message === `avro schema id 1 (dev.tributary.examples.Payment): the record ends at byte ${bytes.length} but the payload has ${bytes.length + 1} (1 trailing)`,
  );
  // A negative string length: avsc's own error, turned into a DecodeError.
  assert.equal(codeOf(() => binaryDecoder.decode(Buffer.from([0x01, 0x00]))), 'MALFORMED');
  assert.equal(codeOf(() => binaryDecoder.decode(Buffer.alloc(0))), 'EMPTY');
});

test('a long beyond 2^53 is MALFORMED, not a silently rounded timestamp', () => {
  const body = binaryEncoder.encode(payment);
  const tsStart = body.length - 6; // ts 1_700_000_123_456 is a 6-byte varint at the end.
  const huge = Buffer.concat([body.subarray(0, tsStart), Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]);
  assert.throws(
    () => binaryDecoder.decode(huge),
    (error: DecodeError) => error.code === 'MALFORMED' && error.message === 'avro schema payment.avsc: potential precision loss',
  );
});

test('each schema id is resolved once; unknown ids are asked again, not cached', () => {
  const asked: number[] = [];
  const resolver = {
    byId(id: number): Type | undefined {
      asked.push(id);
      return registry.byId(id);
    },
  };
  const decoder = createAvroDecoder<Payment>({ wire: 'confluent', registry: resolver });
  const bytes = confluentEncoder.encode(payment);
  for (let i = 0; i < 3; i++) decoder.decode(bytes);
  const unknown = Buffer.from([...confluentHeader(7), ...bytes.subarray(5)]);
  for (let i = 0; i < 2; i++) assert.equal(codeOf(() => decoder.decode(unknown)), 'UNKNOWN_SCHEMA_ID');
  decoder.decode(bytes);
  assert.deepEqual(asked, [1, 7, 7]);
});

test('encoding a value that does not fit the schema throws EncodeError', () => {
  assert.throws(
    () => confluentEncoder.encode({ ...payment, ts: 'yesterday' } as unknown as Payment),
    (error: EncodeError) => error instanceof EncodeError && error.code === 'ENCODE' && error.message === 'avro payment.avsc: cannot encode the value: invalid "long": "yesterday"',
  );
});

test('values larger than the encoder scratch buffer still encode', () => {
  const big = { ...payment, merchantId: 'm'.repeat(100_000) };
  const bytes = confluentEncoder.encode(big);
  assert.equal(bytes.length, 5 + binaryEncoder.encode(big).length);
  assert.deepEqual(toPlain(confluentDecoder.decode(bytes)), big);
});

test('encoded buffers do not share the encoder scratch memory', () => {
  const first = confluentEncoder.encode(payment);
  const copy = Buffer.from(first);
  confluentEncoder.encode({ ...payment, paymentId: 'p-2', cardId: 'other' });
  assert.deepEqual(first, copy);
});

test('configuration mistakes are ConfigErrors', () => {
  assert.throws(() => createAvroDecoder({ wire: 'binary', registry, schema: 'nope.avsc' }), ConfigError);
  assert.throws(() => createAvroEncoder({ wire: 'confluent', registry, schema: 'nope.avsc' }), ConfigError);
  assert.throws(
    () => createAvroDecoder({ wire: 'xml', registry } as never),
    (error: ConfigError) => error.field === 'wire' && error.message === 'Invalid configuration "wire": unknown Avro wire "xml". Fix: use "confluent" or "binary"',
  );
});
