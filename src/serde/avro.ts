import type { Type } from 'avsc';
import { ConfigError, DecodeError, errorMessage } from '../core/errors.ts';
import { guardFor, type AvroGuard } from './avro-guard.ts';
import { decodeError, type Decoder, type Encoder } from './decoder.ts';
import { EncodeError } from './encode-error.ts';
import type { NamedSchemaSource, SchemaResolver } from './schema-resolver.ts';

/**
 * 'confluent': magic byte 0, the schema id as a 4-byte big-endian integer, then the Avro body
 * (what Confluent serializers write). 'binary': the bare Avro body of one known schema.
 */
export type AvroWire = 'confluent' | 'binary';

export type AvroDecoderOptions =
  | { wire: 'confluent'; registry: SchemaResolver }
  | { wire: 'binary'; registry: NamedSchemaSource; schema: string };

export interface AvroEncoderOptions {
  wire: AvroWire;
  registry: NamedSchemaSource;
  /** Schema file name ('payment.avsc'); with 'confluent' it must have an id in the registry. */
  schema: string;
}

const MAGIC_BYTE = 0;
const CONFLUENT_HEADER_BYTES = 5;

/** A schema ready to decode with: its Type, its guard (null when it has no arrays, maps or ints) and the prefix of its error messages. */
interface CompiledSchema {
  type: Type;
  guard: AvroGuard | null;
  label: string;
}

/**
 * Decodes Avro records. Values are avsc record instances (own enumerable fields, as plain objects
 * read them); timestamp-millis fields are plain numbers. `decode` throws DecodeError only.
 */
export function createAvroDecoder<T>(options: AvroDecoderOptions): Decoder<T> {
  if (options.wire === 'confluent') return new ConfluentAvroDecoder<T>(options.registry);
  if (options.wire !== 'binary') throw unknownWire(options);
  if (typeof options.schema !== 'string') {
    throw new ConfigError('schema', 'the binary Avro wire needs a schema file', 'pass schema, e.g. "payment.avsc"');
  }
  return new BinaryAvroDecoder<T>(compile(options.registry.schema(options.schema), `avro schema ${options.schema}`));
}

/** Encodes values as Avro, with the Confluent header or as the bare body. `encode` throws EncodeError. */
export function createAvroEncoder<T>(options: AvroEncoderOptions): Encoder<T> {
  const type = options.registry.schema(options.schema);
  if (options.wire === 'binary') return new AvroEncoder<T>(type, Buffer.alloc(0), options.schema);
  if (options.wire !== 'confluent') throw unknownWire(options);
  const header = Buffer.alloc(CONFLUENT_HEADER_BYTES);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeUInt32BE(options.registry.idOf(options.schema), 1);
  return new AvroEncoder<T>(type, header, options.schema);
}

class ConfluentAvroDecoder<T> implements Decoder<T> {
  readonly format = 'avro-confluent';
  private readonly compiledById = new Map<number, CompiledSchema>();
  // Topics usually carry one schema id, so the last one answers most lookups without the map.
  private lastId = -1;
  private last: CompiledSchema | undefined;

  constructor(private readonly registry: SchemaResolver) {}

  decode(bytes: Buffer): T {
    if (bytes.length === 0) throw decodeError('EMPTY', 'avro-confluent: empty payload');
    if (bytes[0] !== MAGIC_BYTE) {
      throw decodeError('BAD_MAGIC_BYTE', `avro-confluent: first byte is ${bytes[0]}, expected the magic byte ${MAGIC_BYTE}`);
    }
    if (bytes.length < CONFLUENT_HEADER_BYTES) {
      throw decodeError('MALFORMED', `avro-confluent: ${bytes.length} bytes is shorter than the ${CONFLUENT_HEADER_BYTES}-byte header`);
    }
    const id = bytes.readUInt32BE(1);
    const schema = id === this.lastId && this.last !== undefined ? this.last : this.schemaFor(id);
    return decodeBody<T>(schema, bytes, CONFLUENT_HEADER_BYTES);
  }

  private schemaFor(id: number): CompiledSchema {
    let schema = this.compiledById.get(id);
    if (schema === undefined) {
      const type = this.registry.byId(id);
      // Unknown ids are not remembered: random ids in bad records must not grow the map.
      if (type === undefined) throw decodeError('UNKNOWN_SCHEMA_ID', `avro-confluent: unknown schema id ${id}`);
      schema = compile(type, `avro schema id ${id}${type.name === undefined ? '' : ` (${type.name})`}`);
      this.compiledById.set(id, schema);
    }
    this.lastId = id;
    this.last = schema;
    return schema;
  }
}

class BinaryAvroDecoder<T> implements Decoder<T> {
  readonly format = 'avro';

  constructor(private readonly schema: CompiledSchema) {}

  decode(bytes: Buffer): T {
    if (bytes.length === 0) throw decodeError('EMPTY', 'avro: empty payload');
    return decodeBody<T>(this.schema, bytes, 0);
  }
}

function compile(type: Type, label: string): CompiledSchema {
  return { type, guard: guardFor(type), label };
}

/** Decodes the Avro body starting at `start`; the body must end exactly at the end of `bytes`. */
function decodeBody<T>(schema: CompiledSchema, bytes: Buffer, start: number): T {
  let decoded: { value: unknown; offset: number };
  try {
    if (schema.guard !== null) checkEnd(schema, schema.guard(bytes, start, schema.label), bytes.length);
    decoded = schema.type.decode(bytes, start);
  } catch (error) {
    if (error instanceof DecodeError) throw error; // The guard's, already labelled.
    // avsc's own errors, and RangeError when deeply nested recursive records exhaust the stack.
    throw decodeError('MALFORMED', `${schema.label}: ${errorMessage(error)}`, error);
  }
  checkEnd(schema, decoded.offset, bytes.length);
  return decoded.value as T;
}

/** `end` is where decoding stopped (avsc: -1 when it ran out of bytes). */
function checkEnd(schema: CompiledSchema, end: number, length: number): void {
  if (end === length) return;
  if (end < 0) throw decodeError('MALFORMED', `${schema.label}: truncated: the record needs more than the ${length} bytes given`);
  throw decodeError('TRAILING_BYTES', `${schema.label}: the record ends at byte ${end} but the payload has ${length} (${length - end} trailing)`);
}

function unknownWire(options: { wire: unknown }): ConfigError {
  return new ConfigError('wire', `unknown Avro wire "${String(options.wire)}"`, 'use "confluent" or "binary"');
}

/** Scratch buffer size for encoding; larger values fall back to avsc's own allocation. */
const SCRATCH_BYTES = 64 * 1024;

class AvroEncoder<T> implements Encoder<T> {
  // Encoding into a reused buffer then copying out once beats allocating per value and
  // concatenating header and body.
  private readonly scratch: Buffer;

  constructor(
    private readonly type: Type,
    private readonly header: Buffer,
    private readonly schemaName: string,
  ) {
    this.scratch = Buffer.alloc(SCRATCH_BYTES);
    header.copy(this.scratch);
  }

  encode(value: T): Buffer {
    try {
      const end = this.type.encode(value, this.scratch, this.header.length);
      if (end >= 0) return Buffer.from(this.scratch.subarray(0, end));
      return Buffer.concat([this.header, this.type.toBuffer(value)]);
    } catch (error) {
      throw new EncodeError(`avro ${this.schemaName}: cannot encode the value: ${errorMessage(error)}`, error);
    }
  }
}
