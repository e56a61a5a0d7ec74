import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import avsc from 'avsc';
import { DecodeError } from '../../../src/core/errors.ts';
import { createAvroDecoder, createAvroEncoder } from '../../../src/serde/avro.ts';
import { guardFor, MAX_ZERO_BYTE_ITEMS } from '../../../src/serde/avro-guard.ts';
import { LocalSchemaRegistry } from '../../../src/serde/schema-registry.ts';
import { avroString, toPlain, varint } from '../../fixtures/serde/avro-bytes.ts';

const registry = LocalSchemaRegistry.fromDirectory(fileURLToPath(new URL('../../fixtures/serde/registry', import.meta.url)));
const projectRegistry = LocalSchemaRegistry.fromDirectory(fileURLToPath(new URL('../../../schemas', import.meta.url)));
const HUGE_COUNT = 100_000_000;

function binaryDecoder(schema: string) {
  return createAvroDecoder<unknown>({ wire: 'binary', registry, schema });
}

/** Decodes and returns the DecodeError's code, failing the test if decode returns or throws anything else. */
function failureCode(schema: string, bytes: number[]): string {
  const decoder = binaryDecoder(schema);
  try {
    decoder.decode(Buffer.from(bytes));
  } catch (error) {
    assert.ok(error instanceof DecodeError, `expected DecodeError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('decode returned a value');
}

/**
 * Runs `attack` and checks it failed with BLOCK_COUNT without allocating for the claimed count
 * (unguarded, avsc allocates for 100,000,000 items until Node aborts; the heap says whether it tried).
 */
function assertRejectedPromptly(schema: string, bytes: number[]): void {
  const heapBefore = process.memoryUsage().heapUsed;
  const code = failureCode(schema, bytes);
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  assert.equal(code, 'BLOCK_COUNT');
  assert.ok(heapGrowth < 16 * 1024 * 1024, `heap grew ${heapGrowth} bytes`);
}

test('the array attack (empty string, block count 100,000,000) is rejected with BLOCK_COUNT', () => {
  const bytes = [...avroString(''), ...varint(HUGE_COUNT)];
  assert.deepEqual(bytes, [0x00, 0x80, 0x84, 0xaf, 0x5f]); // Unguarded, avsc allocates until Node aborts.
  assertRejectedPromptly('string_then_array.avsc', bytes);
});

test('the map variant of the attack is rejected with BLOCK_COUNT', () => {
  assertRejectedPromptly('string_then_map.avsc', [...avroString(''), ...varint(HUGE_COUNT)]);
});

test('an array nested in a union branch is guarded too', () => {
  // Union branch 1 (the Inner record), then the outer array's count; then an inner array's count.
  assertRejectedPromptly('array_in_union.avsc', [...avroString('x'), ...varint(1), ...varint(HUGE_COUNT)]);
  assertRejectedPromptly('array_in_union.avsc', [...avroString('x'), ...varint(1), ...varint(1), ...varint(HUGE_COUNT), 0, 0]);
});

test('the same attack through the Confluent wire is rejected with BLOCK_COUNT', () => {
  const decoder = createAvroDecoder<unknown>({ wire: 'confluent', registry });
  const bytes = Buffer.from([0, 0, 0, 0, 1, ...avroString(''), ...varint(HUGE_COUNT)]);
  assert.throws(() => decoder.decode(bytes), (error: DecodeError) => {
    assert.equal(error.code, 'BLOCK_COUNT');
    assert.match(error.message, /^avro schema id 1 \(dev\.tributary\.test\.StringThenArray\): array block count 100000000 at offset 6 cannot fit in the 0 bytes left/);
    return true;
  });
});

test('a block count is bounded by the bytes left divided by the smallest item size', () => {
  // 3 doubles need 24 bytes; only 16 follow.
  const mixedPrefix = [...varint(1), ...varint(1), ...avroString(''), 0, 0, 0, 0, ...Array(8).fill(0), 1, ...varint(0), 1, 2, 3, 4, ...varint(0), ...varint(0)];
  const tail = [...varint(0), ...varint(0), 0, 0, ...varint(0)]; // tags, scores, choice null, nested null, items
  const points = [...varint(3), ...Array(16).fill(0)];
  assert.equal(failureCode('mixed.avsc', [...mixedPrefix, ...tail, ...points]), 'BLOCK_COUNT');
});

test('negative block counts carry a byte size that must match the items', () => {
  const decoder = binaryDecoder('string_then_array.avsc');
  // Block of -2 items, 2 bytes: the longs 1 and 2.
  const consistent = [...avroString('a'), ...varint(-2), ...varint(2), ...varint(1), ...varint(2), 0];
  assert.deepEqual(toPlain(decoder.decode(Buffer.from(consistent))), { label: 'a', values: [1, 2] });
  const wrongSize = [...avroString('a'), ...varint(-2), ...varint(3), ...varint(1), ...varint(2), 0, 0];
  assert.equal(failureCode('string_then_array.avsc', wrongSize), 'BLOCK_COUNT');
  const sizePastEnd = [...avroString('a'), ...varint(-1), ...varint(50), ...varint(1), 0];
  assert.equal(failureCode('string_then_array.avsc', sizePastEnd), 'BLOCK_COUNT');
  const negativeSize = [...avroString('a'), ...varint(-1), ...varint(-1), ...varint(1), 0];
  assert.equal(failureCode('string_then_array.avsc', negativeSize), 'BLOCK_COUNT');
});

test('zero-byte items are capped per record', () => {
  const decoder = binaryDecoder('zero_byte_items.avsc');
  const atCap = [...varint(MAX_ZERO_BYTE_ITEMS), 0, 0];
  const decoded = decoder.decode(Buffer.from(atCap)) as { nothings: unknown[]; nulls: object };
  assert.equal(decoded.nothings.length, MAX_ZERO_BYTE_ITEMS);
  assert.equal(failureCode('zero_byte_items.avsc', [...varint(MAX_ZERO_BYTE_ITEMS + 1), 0, 0]), 'BLOCK_COUNT');
  // The cap is shared: many blocks cannot add up past it.
  assert.equal(failureCode('zero_byte_items.avsc', [...varint(MAX_ZERO_BYTE_ITEMS), ...varint(1), 0, 0]), 'BLOCK_COUNT');
});

test('varints longer than 10 bytes, bad union indexes and overlong strings are MALFORMED', () => {
  assert.equal(failureCode('string_then_array.avsc', [...Array(10).fill(0x80), 0]), 'MALFORMED');
  assert.equal(failureCode('string_then_array.avsc', [0, ...Array(11).fill(0xff), 0]), 'MALFORMED');
  assert.equal(failureCode('array_in_union.avsc', [...avroString('x'), ...varint(2)]), 'MALFORMED');
  assert.equal(failureCode('array_in_union.avsc', [...avroString('x'), ...varint(-1)]), 'MALFORMED');
  assert.equal(failureCode('string_then_array.avsc', [...varint(20), 65, 0]), 'MALFORMED');
  assert.equal(failureCode('string_then_array.avsc', [...varint(-3), 0]), 'MALFORMED');
});

test('a "__proto__" map key is rejected, however its length is written', () => {
  const protoKey = [...Buffer.from('__proto__')];
  const canonical = [...avroString(''), ...varint(1), ...varint(9), ...protoKey, ...varint(5), 0];
  assert.equal(failureCode('string_then_map.avsc', canonical), 'MALFORMED');
  const twoByteLength = [...avroString(''), ...varint(1), 0x92, 0x00, ...protoKey, ...varint(5), 0];
  assert.equal(failureCode('string_then_map.avsc', twoByteLength), 'MALFORMED');
  const similar = [...avroString(''), ...varint(1), ...avroString('__proto_x'), ...varint(5), 0];
  assert.deepEqual(toPlain(binaryDecoder('string_then_map.avsc').decode(Buffer.from(similar))), { label: '', counts: { __proto_x: 5 } });
});

test('a varint of exactly 10 bytes is accepted by the guard', () => {
  // -2^63, the smallest long, takes 10 bytes; avsc then rejects it for losing precision (MALFORMED).
  const smallestLong = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  const guard = guardFor(registry.schema('string_then_array.avsc'));
  assert.ok(guard !== null);
  const bytes = Buffer.from([...avroString(''), ...varint(1), ...smallestLong, 0]);
  assert.equal(guard(bytes, 0), bytes.length);
});

test('recursive schemas are walked and decoded', () => {
  const tree = { label: 'root', children: [{ label: 'a', children: [] }, { label: 'b', children: [{ label: 'c', children: [] }] }] };
  const encoded = createAvroEncoder({ wire: 'binary', registry, schema: 'tree.avsc' }).encode(tree);
  assert.deepEqual(toPlain(binaryDecoder('tree.avsc').decode(encoded)), tree);
  // A child claiming 1,000 grandchildren in a 10-byte record.
  assert.equal(failureCode('tree.avsc', [...avroString('r'), ...varint(1), ...avroString('a'), ...varint(1000), 0, 0]), 'BLOCK_COUNT');
});

test('recursion deep enough to exhaust the stack is a DecodeError', () => {
  const depth = 100_000; // Each level: an empty label and a block of one child.
  const bytes = [...Array(depth).fill([0, ...varint(1)]).flat(), 0, 0, ...Array(depth).fill(0)];
  assert.equal(failureCode('tree.avsc', bytes), 'MALFORMED');
});

test('ints outside 32 bits are MALFORMED, also in schemas without arrays or maps (found by fuzzing)', () => {
  // avsc reads an int like a long and returns any size: a mutated record decoded to count 27976295808319398000.
  const counter = avsc.Type.forSchema({ type: 'record', name: 'Counter', fields: [{ name: 'label', type: 'string' }, { name: 'count', type: 'int' }] });
  const decoder = createAvroDecoder<unknown>({ wire: 'binary', registry: { has: () => true, schema: () => counter, idOf: () => 1 }, schema: 'counter.avsc' });
  for (const count of [0, -1, 2 ** 31 - 1, -(2 ** 31)]) {
    assert.deepEqual(toPlain(decoder.decode(Buffer.from([...avroString('a'), ...varint(count)]))), { label: 'a', count });
  }
  const largest10ByteVarint = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  for (const count of [varint(2 ** 31), varint(-(2 ** 31) - 1), varint(2 ** 40), largest10ByteVarint]) {
    assert.throws(() => decoder.decode(Buffer.from([...avroString('a'), ...count])), (error: unknown) => error instanceof DecodeError && error.code === 'MALFORMED' && /outside the 32-bit range/.test(error.message));
  }
  // mixed.avsc: a long id, then the int count.
  assert.equal(failureCode('mixed.avsc', [...varint(1), ...varint(2 ** 31)]), 'MALFORMED');
});

test('schemas without arrays, maps or ints get no guard; guards are built once per type', () => {
  assert.equal(guardFor(projectRegistry.schema('payment.avsc')), null);
  const mixed = registry.schema('mixed.avsc');
  const guard = guardFor(mixed);
  assert.equal(typeof guard, 'function');
  assert.equal(guardFor(mixed), guard);
});
