import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { DecodeError } from '../../../src/core/errors.ts';
import { createAvroDecoder, createAvroEncoder } from '../../../src/serde/avro.ts';
import type { Decoder } from '../../../src/serde/decoder.ts';
import { createJsonDecoder } from '../../../src/serde/json.ts';
import { LocalSchemaRegistry } from '../../../src/serde/schema-registry.ts';
import { confluentHeader, toPlain } from '../../fixtures/serde/avro-bytes.ts';

/*
 * Random bytes must never do worse than a DecodeError: without the block-count guard, random
 * inputs of 64 bytes or less abort Node (avsc out-of-memory) within ~20k tries.
 */

const fixtures = LocalSchemaRegistry.fromDirectory(fileURLToPath(new URL('../../fixtures/serde/registry', import.meta.url)));
const project = LocalSchemaRegistry.fromDirectory(fileURLToPath(new URL('../../../schemas', import.meta.url)));
const FIXTURE_IDS = [1, 2, 3, 4, 5, 6];
const DECODE_CODES = new Set(['MALFORMED', 'UNKNOWN_SCHEMA_ID', 'BAD_MAGIC_BYTE', 'BLOCK_COUNT', 'TRAILING_BYTES', 'EMPTY']);
const RANDOM_RUNS = 100_000;
// avsc accepts longs up to 2^53 - 2 but zig-zags them in floating point, so a negative long below
// -2^52 comes back positive (-4503599627370497 -> 4503599627370496). Known avsc limitation, not ours.
const EXACT_LONG = 2 ** 52;

const long = fc.integer({ min: -EXACT_LONG, max: EXACT_LONG });
const int = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const bytesValue = (constraints: { minLength?: number; maxLength: number }) => fc.uint8Array(constraints).map((array) => Buffer.from(array));
// The guard rejects "__proto__" map keys (avsc would set the decoded map's prototype with them).
const mapKey = text.filter((key) => key !== '__proto__');
const mapOf = <V>(values: fc.Arbitrary<V>) => fc.dictionary(mapKey, values, { maxKeys: 4, noNullPrototype: true });

const mixedRecord = fc.record({
  id: long,
  count: int,
  name: text,
  ratio: fc.float(),
  amount: fc.double(),
  active: fc.boolean(),
  blob: bytesValue({ maxLength: 8 }),
  hash: bytesValue({ minLength: 4, maxLength: 4 }),
  kind: fc.constantFrom('A', 'B', 'C'),
  at: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  tags: fc.array(text, { maxLength: 4 }),
  scores: mapOf(fc.double()),
  choice: fc.oneof(fc.constant(null), text, long),
  nested: fc.oneof(fc.constant(null), fc.array(mapOf(int), { maxLength: 3 })),
  items: fc.array(fc.record({ sku: text, qty: int, flag: fc.boolean() }), { maxLength: 3 }),
  points: fc.array(fc.double(), { maxLength: 4 }),
  nulls: fc.array(fc.constant(null), { maxLength: 4 }),
});

const payment = fc.record({
  paymentId: text,
  cardId: text,
  merchantId: text,
  amount: fc.double(),
  currency: text,
  country: text,
  ts: long,
});

interface Tree {
  label: string;
  children: Tree[];
}
const { tree } = fc.letrec<{ tree: Tree }>((arb) => ({
  tree: fc.record({
    label: text,
    children: fc.oneof({ depthSize: 'small' }, fc.constant<Tree[]>([]), fc.array(arb('tree'), { maxLength: 3 })),
  }),
}));

const mixedEncoder = createAvroEncoder<unknown>({ wire: 'confluent', registry: fixtures, schema: 'mixed.avsc' });

/** Overwrites bytes after the 5-byte header: each edit is (position, new byte value). */
function mutate(encoded: Buffer, edits: [number, number][]): Uint8Array {
  for (const [position, value] of edits) encoded[5 + (position % (encoded.length - 5))] = value;
  return encoded;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Decodes and tallies the outcome; false (a property failure) for anything but a value or a DecodeError. */
function decodesOrRejects(decoder: Decoder<unknown>, bytes: Buffer, outcomes: Map<string, number>): boolean {
  let outcome = 'decoded';
  try {
    decoder.decode(bytes);
  } catch (error) {
    if (!(error instanceof DecodeError) || !DECODE_CODES.has(error.code)) return false;
    outcome = error.code;
  }
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  return true;
}

test('random Confluent payloads (most with a valid header, some mutated records) decode or throw DecodeError', () => {
  const decoder = createAvroDecoder<unknown>({ wire: 'confluent', registry: fixtures });
  const payloads = fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...FIXTURE_IDS, 99), fc.uint8Array({ maxLength: 59 }))
        .map(([id, body]) => Uint8Array.from([...confluentHeader(id), ...body])),
    },
    // Valid records with a few bytes overwritten reach deeper into the schema than random bodies.
    {
      weight: 1,
      arbitrary: fc
        .tuple(mixedRecord, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 3 }))
        .map(([record, edits]) => mutate(mixedEncoder.encode(record), edits)),
    },
  );
  const outcomes = new Map<string, number>();
  fc.assert(fc.property(payloads, (bytes) => decodesOrRejects(decoder, asBuffer(bytes), outcomes)), { numRuns: RANDOM_RUNS });
  for (const outcome of ['decoded', 'BLOCK_COUNT', 'MALFORMED', 'TRAILING_BYTES', 'UNKNOWN_SCHEMA_ID', 'BAD_MAGIC_BYTE']) {
    assert.ok((outcomes.get(outcome) ?? 0) > 0, `no ${outcome} among ${JSON.stringify([...outcomes])}`);
  }
});

test('random bodies decode or throw DecodeError for every binary schema', () => {
  const decoders = [
    ...fixtures.fileNames.map((schema) => createAvroDecoder<unknown>({ wire: 'binary', registry: fixtures, schema })),
    createAvroDecoder<unknown>({ wire: 'binary', registry: project, schema: 'payment.avsc' }),
  ];
  const outcomes = new Map<string, number>();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => decoders.every((decoder) => decodesOrRejects(decoder, asBuffer(bytes), outcomes))),
    { numRuns: RANDOM_RUNS },
  );
  assert.ok((outcomes.get('BLOCK_COUNT') ?? 0) > 0);
});

test('random bytes and random JSON texts decode or throw DecodeError', () => {
  const decoder = createJsonDecoder();
  const outcomes = new Map<string, number>();
  const payloads = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.json().map((text) => new TextEncoder().encode(text)));
  fc.assert(fc.property(payloads, (bytes) => decodesOrRejects(decoder, asBuffer(bytes), outcomes)), { numRuns: RANDOM_RUNS });
  assert.ok((outcomes.get('decoded') ?? 0) > 0 && (outcomes.get('MALFORMED') ?? 0) > 0);
});

function assertRoundTrips<T>(registry: LocalSchemaRegistry, schema: string, values: fc.Arbitrary<T>): void {
  for (const wire of ['confluent', 'binary'] as const) {
    const encoder = createAvroEncoder<T>({ wire, registry, schema });
    const decoder = wire === 'confluent' ? createAvroDecoder<T>({ wire, registry }) : createAvroDecoder<T>({ wire, registry, schema });
    fc.assert(
      fc.property(values, (value) => {
        assert.deepStrictEqual(toPlain(decoder.decode(encoder.encode(value))), toPlain(value));
      }),
      { numRuns: 3_000 },
    );
  }
}

test('valid records round-trip: decode(encode(x)) deep-equals x', () => {
  assertRoundTrips(fixtures, 'mixed.avsc', mixedRecord);
  assertRoundTrips(fixtures, 'tree.avsc', tree);
  assertRoundTrips(project, 'payment.avsc', payment);
});
