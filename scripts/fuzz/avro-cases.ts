import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Type } from 'avsc';
import fc from 'fast-check';
import { DecodeError } from '../../src/core/errors.ts';
import { createDecoder } from '../../src/serde/create-decoder.ts';
import type { Decoder } from '../../src/serde/decoder.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import { valueArbitrary } from './avro-values.ts';

/**
 * The Avro fuzz inputs: random bytes, and valid encodings of random values of every schema with
 * mutations (bit flips, truncation, extension, deletions, duplications, huge varints, giant block
 * counts, negative lengths) and Confluent headers with valid, foreign, unknown and broken ids.
 * Decoders are made by createDecoder, as the Kafka source makes them.
 */

/** One decoder the engine would build: 'avro-confluent' for a registry, or 'avro' for one schema. */
export interface DecodeTarget {
  label: string;
  decoder: Decoder<unknown>;
  /** The writer schema of bytes this target decoded (for checking the decoded value). */
  typeOf(bytes: Buffer): Type | undefined;
}

interface SchemaEntry {
  target: number; // index of its binary DecodeTarget
  confluent: number; // index of its registry's confluent DecodeTarget
  id: number | undefined;
  otherIds: number[];
  encodings: fc.Arbitrary<Buffer>;
}

export interface AvroCase {
  target: number;
  bytes: Buffer;
  /** How the input was made: random, header+random, binary random, mutated confluent, mutated binary. */
  strategy: string;
}

export interface AvroFuzzSetup {
  targets: DecodeTarget[];
  cases: fc.Arbitrary<AvroCase>;
}

/** Zig-zag varints that make decoders allocate, seek backwards or overflow. */
const EVIL_VARINTS: number[][] = [
  ...[1n, 63n, 64n, 16_385n, 1_000_000n, 1_000_001n, 100_000_000n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 53n, 2n ** 62n].map(zigzag),
  ...[-1n, -2n, -64n, -65n, -1_000_000n, -100_000_000n, -(2n ** 31n), -(2n ** 53n), -(2n ** 63n)].map(zigzag),
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 2^64 - 1 before zig-zag: the largest 10-byte varint
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 11 bytes: longer than any long
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], // zero, written the longest way
  [0x80, 0x80, 0x80, 0x80], // runs off the end
];
const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const UNKNOWN_IDS = [0, 7, 99, 2 ** 31 - 1, 2 ** 31, 0xffffffff];

export function zigzag(n: bigint): number[] {
  let z = n >= 0n ? n * 2n : -n * 2n - 1n;
  const bytes: number[] = [];
  while (z >= 0x80n) {
    bytes.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  bytes.push(Number(z));
  return bytes;
}

type Mutation =
  | { op: 'flip'; pos: number; bit: number }
  | { op: 'set'; pos: number; value: number }
  | { op: 'truncate'; pos: number }
  | { op: 'extend'; bytes: Uint8Array }
  | { op: 'varint'; pos: number; overwrite: boolean; varint: number[] }
  | { op: 'delete'; pos: number; length: number }
  | { op: 'duplicate'; pos: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant('set' as const), pos: fc.nat(), value: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.nat(255)) }),
  fc.record({ op: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({ op: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  { weight: 3, arbitrary: fc.record({ op: fc.constant('varint' as const), pos: fc.nat(), overwrite: fc.boolean(), varint: fc.constantFrom(...EVIL_VARINTS) }) },
  fc.record({ op: fc.constant('delete' as const), pos: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('duplicate' as const), pos: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
);

export function applyMutation(bytes: number[], m: Mutation): number[] {
  const at = (pos: number) => pos % (bytes.length + 1); // a position in the bytes or just past them
  switch (m.op) {
    case 'flip':
      if (bytes.length > 0) bytes[m.pos % bytes.length] ^= 1 << m.bit;
      return bytes;
    case 'set':
      if (bytes.length > 0) bytes[m.pos % bytes.length] = m.value;
      return bytes;
    case 'truncate':
      return bytes.slice(0, at(m.pos));
    case 'extend':
      return [...bytes, ...m.bytes];
    case 'varint': {
      const pos = at(m.pos);
      return [...bytes.slice(0, pos), ...m.varint, ...bytes.slice(m.overwrite ? pos + m.varint.length : pos)];
    }
    case 'delete': {
      const pos = at(m.pos);
      return [...bytes.slice(0, pos), ...bytes.slice(pos + m.length)];
    }
    case 'duplicate': {
      const pos = at(m.pos);
      return [...bytes.slice(0, pos + m.length), ...bytes.slice(pos)];
    }
  }
}

/** Decoders and the case generator for every schema in `dirs` (each a directory with registry.json). */
export function avroFuzzSetup(dirs: string[]): AvroFuzzSetup {
  const targets: DecodeTarget[] = [];
  const schemas: SchemaEntry[] = [];
  for (const dir of dirs) {
    const registry = LocalSchemaRegistry.fromDirectory(dir);
    const ids = registeredIds(dir);
    const confluent = targets.push({
      label: `${dir} (avro-confluent)`,
      decoder: createDecoder({ format: 'avro-confluent', registry }),
      typeOf: (bytes) => registry.byId(bytes.readUInt32BE(1)),
    }) - 1;
    for (const file of registry.fileNames) {
      const type = registry.schema(file);
      const target = targets.push({ label: `${join(dir, file)} (avro)`, decoder: createDecoder({ format: 'avro', schema: file, registry }), typeOf: () => type }) - 1;
      const id = ids.get(file);
      const otherIds = [...ids.values()].filter((other) => other !== id);
      schemas.push({ target, confluent, id, otherIds, encodings: valueArbitrary(type).map((value) => type.toBuffer(value)) });
    }
  }
  return { targets, cases: caseArbitrary(schemas) };
}

function caseArbitrary(schemas: SchemaEntry[]): fc.Arbitrary<AvroCase> {
  const schema = fc.constantFrom(...schemas);
  const body = fc.oneof(fc.uint8Array({ maxLength: 64 }), { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1024 }) }).map((array) => Buffer.from(array));
  const random = fc.tuple(schema, body).map(([s, bytes]): AvroCase => ({ target: s.confluent, bytes, strategy: 'random' }));
  const headerRandom = fc
    .tuple(schema, body)
    .chain(([s, bytes]) => header(s).map((head): AvroCase => ({ target: s.confluent, bytes: Buffer.concat([head, bytes]), strategy: 'header+random' })));
  const binaryRandom = fc.tuple(schema, body).map(([s, bytes]): AvroCase => ({ target: s.target, bytes, strategy: 'binary random' }));
  const mutated = schema.chain((s) =>
    fc
      .tuple(s.encodings, fc.boolean(), header(s), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([encoded, confluent, head, mutations, mutateHeaderToo]): AvroCase => {
        const framed = confluent && !mutateHeaderToo;
        let bytes = Array.from(framed || !confluent ? encoded : Buffer.concat([head, encoded]));
        for (const m of mutations) bytes = applyMutation(bytes, m);
        const payload = framed ? Buffer.concat([head, Buffer.from(bytes)]) : Buffer.from(bytes);
        return { target: confluent ? s.confluent : s.target, bytes: payload, strategy: confluent ? 'mutated confluent' : 'mutated binary' };
      }),
  );
  return fc.oneof({ weight: 1, arbitrary: random }, { weight: 2, arbitrary: headerRandom }, { weight: 2, arbitrary: binaryRandom }, { weight: 8, arbitrary: mutated });
}

/** A Confluent header: mostly the schema's own id, else another schema's, an unknown id, a wrong magic byte or too few bytes. */
function header(s: SchemaEntry): fc.Arbitrary<Buffer> {
  const frame = (magic: number, id: number) => {
    const head = Buffer.alloc(5);
    head.writeUInt8(magic, 0);
    head.writeUInt32BE(id, 1);
    return head;
  };
  const own = s.id === undefined ? [] : [{ weight: 8, arbitrary: fc.constant(frame(0, s.id)) }];
  const others = s.otherIds.length === 0 ? [] : [{ weight: 1, arbitrary: fc.constantFrom(...s.otherIds).map((id) => frame(0, id)) }];
  return fc.oneof(
    ...own,
    ...others,
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...UNKNOWN_IDS), fc.nat({ max: 0xffffffff })).map((id) => frame(0, id)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }).map((magic) => frame(magic, s.id ?? 1)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }).map((length) => frame(0, s.id ?? 1).subarray(0, length)) },
  );
}

/** File name → id, from the directory's registry.json (the registry itself answers id → type only). */
function registeredIds(dir: string): Map<string, number> {
  const { schemas } = JSON.parse(readFileSync(join(dir, 'registry.json'), 'utf8')) as { schemas: Record<string, string> };
  return new Map(Object.entries(schemas).map(([id, file]) => [file, Number(id)]));
}

/** The error codes of src/serde/decoder.ts (DecodeErrorCode), written out here to check against. */
const DECODE_CODES = new Set(['MALFORMED', 'UNKNOWN_SCHEMA_ID', 'BAD_MAGIC_BYTE', 'BLOCK_COUNT', 'TRAILING_BYTES', 'EMPTY']);

/**
 * Decodes one input: 'decoded', 'DecodeError <code>', or a failure with a description: 'crash: …'
 * (anything else thrown) or 'invalid value decoded' (a value its schema forbids).
 */
export function classify(target: DecodeTarget, bytes: Buffer): { outcome: string; problem?: string } {
  let value: unknown;
  try {
    value = target.decoder.decode(bytes);
  } catch (error) {
    if (error instanceof DecodeError && DECODE_CODES.has(error.code)) return { outcome: `DecodeError ${error.code}` };
    const name = error instanceof Error ? error.constructor.name : typeof error;
    return { outcome: `crash: ${name} escaped`, problem: `${name}: ${error instanceof Error ? error.message : String(error)}` };
  }
  const type = target.typeOf(bytes);
  let invalid = type === undefined ? 'no writer schema' : undefined;
  type?.isValid(value, { errorHook: (path, field, fieldType) => (invalid ??= `${path.join('.')} = ${String(field)} is not a valid ${fieldType.typeName}`) });
  if (invalid !== undefined) return { outcome: 'invalid value decoded', problem: `the decoded value breaks its schema: ${invalid}` };
  return { outcome: 'decoded' };
}
