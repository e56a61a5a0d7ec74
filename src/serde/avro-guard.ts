import type { Type, types } from 'avsc';
import { ConfigError } from '../core/errors.ts';
import { decodeError, type DecodeErrorCode } from './decoder.ts';
import { containsArrayMapOrInt, fixedWidthOf, logicalUnderlying, minimumWidthOf, unionBranches } from './avro-type-shape.ts';

/**
 * Protection against the avsc block-count DoS: avsc 5.7.9 trusts an array/map block count and
 * allocates for it, so a 5-byte record (an empty string, then a block count of 100,000,000)
 * aborts Node with an uncatchable out-of-memory error. A guard walks the bytes with the schema
 * before avsc decodes them and throws DecodeError when a block count cannot fit in the bytes
 * left, a block's byte size disagrees with its items, a length overruns the buffer, a varint is
 * longer than 10 bytes, an int is outside 32 bits (avsc reads ints as longs and returns any size,
 * which no int column or consumer expects), a union or enum index is out of range, or a map key is
 * "__proto__".
 * Returns the offset just after the value. `context` prefixes error messages ("avro schema id 1
 * (Payment)"), so a rejection costs one DecodeError, not one plus a wrapper.
 */
export type AvroGuard = (bytes: Uint8Array, offset: number, context?: string) => number;

/**
 * Items of zero-byte types (null, empty records) are bounded by no byte count, so one record may
 * hold at most this many of them across all its arrays and maps.
 */
export const MAX_ZERO_BYTE_ITEMS = 1_000_000;
const MAX_VARINT_BYTES = 10;

interface Cursor {
  bytes: Uint8Array;
  context: string | undefined;
  pos: number;
  zeroByteItemsLeft: number;
}
type Walk = (cursor: Cursor) => void;

const guards = new WeakMap<Type, AvroGuard | null>();

/**
 * The guard for `type`, built once per Type; null when the type holds no array, map or int, since
 * then avsc never allocates more than the bytes it is given, nor returns a value its schema forbids.
 */
export function guardFor(type: Type): AvroGuard | null {
  let guard = guards.get(type);
  if (guard === undefined) {
    guard = containsArrayMapOrInt(type) ? buildGuard(compileWalk(type, new Map())) : null;
    guards.set(type, guard);
  }
  return guard;
}

function buildGuard(walk: Walk): AvroGuard {
  return (bytes, offset, context) => {
    const cursor: Cursor = { bytes, context, pos: offset, zeroByteItemsLeft: MAX_ZERO_BYTE_ITEMS };
    walk(cursor);
    return cursor.pos;
  };
}

/** Builds the walker tree for a type once; `compiled` ties recursive records back to themselves. */
function compileWalk(type: Type, compiled: Map<Type, Walk>): Walk {
  const width = fixedWidthOf(type);
  if (width !== null) return width === 0 ? skipNothing : skipFixedWidth(width);
  switch (type.typeName) {
    case 'int':
      return walkInt;
    case 'long':
    case 'abstract:long':
      return skipVarint;
    case 'string':
    case 'bytes':
      return skipLengthPrefixed;
    case 'enum':
      return walkIndex('enum', (type as types.EnumType).symbols.length);
    case 'array':
      return walkArray((type as types.ArrayType).itemsType, compiled);
    case 'map':
      return walkMap((type as types.MapType).valuesType as Type, compiled);
    case 'record':
    case 'error':
      return walkRecord(type as types.RecordType, compiled);
    case 'union:unwrapped':
    case 'union:wrapped':
      return walkUnion(unionBranches(type), compiled);
  }
  const underlying = logicalUnderlying(type);
  if (underlying !== undefined) return compileWalk(underlying, compiled);
  throw new ConfigError('schema', `the decode guard does not know Avro type "${type.typeName}"`, 'use standard Avro types');
}

function walkRecord(type: types.RecordType, compiled: Map<Type, Walk>): Walk {
  const known = compiled.get(type);
  if (known !== undefined) return known;
  let walkFields: Walk = skipNothing;
  compiled.set(type, (cursor) => walkFields(cursor)); // Indirection so recursive fields find this record.
  const fieldWalks = type.fields.map((field) => compileWalk(field.type, compiled)).filter((walk) => walk !== skipNothing);
  walkFields = (cursor) => {
    for (let i = 0; i < fieldWalks.length; i++) fieldWalks[i](cursor);
  };
  return walkFields;
}

function walkUnion(branches: Type[], compiled: Map<Type, Walk>): Walk {
  const branchWalks = branches.map((branch) => compileWalk(branch, compiled));
  return (cursor) => {
    const start = cursor.pos;
    const index = readVarint(cursor);
    if (index < 0 || index >= branchWalks.length) {
      throw reject(cursor, 'MALFORMED', `union index ${index} at offset ${start} is out of range (${branchWalks.length} branches)`);
    }
    branchWalks[index](cursor);
  };
}

function walkIndex(kind: string, size: number): Walk {
  return (cursor) => {
    const start = cursor.pos;
    const index = readVarint(cursor);
    if (index < 0 || index >= size) {
      throw reject(cursor, 'MALFORMED', `${kind} index ${index} at offset ${start} is out of range (${size} symbols)`);
    }
  };
}

function walkArray(items: Type, compiled: Map<Type, Walk>): Walk {
  const width = fixedWidthOf(items);
  return walkBlocks('array', minimumWidthOf(items), width, width === null ? compileWalk(items, compiled) : skipNothing);
}

function walkMap(values: Type, compiled: Map<Type, Walk>): Walk {
  const walkValue = compileWalk(values, compiled);
  const walkEntry: Walk = (cursor) => {
    skipMapKey(cursor);
    walkValue(cursor);
  };
  return walkBlocks('map', 1 + minimumWidthOf(values), null, walkEntry);
}

/**
 * Array and map blocks: a count (0 ends the value; a negative count is followed by the block's
 * byte size) then the items. `itemWidth` set means items need no walk: the block is skipped whole.
 */
function walkBlocks(kind: string, minItemBytes: number, itemWidth: number | null, walkItem: Walk): Walk {
  return (cursor) => {
    for (;;) {
      const blockStart = cursor.pos;
      let count = readVarint(cursor);
      if (count === 0) return;
      let byteSize = -1;
      if (count < 0) {
        count = -count;
        byteSize = readVarint(cursor);
        const left = cursor.bytes.length - cursor.pos;
        if (byteSize < 0 || byteSize > left) {
          throw reject(cursor, 'BLOCK_COUNT', `${kind} block at offset ${blockStart} declares ${byteSize} bytes but ${left} are left`);
        }
      }
      checkCount(cursor, kind, blockStart, count, minItemBytes);
      const itemsStart = cursor.pos;
      if (itemWidth !== null) cursor.pos += count * itemWidth;
      else for (let i = 0; i < count; i++) walkItem(cursor);
      if (byteSize >= 0 && cursor.pos - itemsStart !== byteSize) {
        throw reject(cursor, 'BLOCK_COUNT', `${kind} block at offset ${blockStart} declares ${byteSize} bytes but its ${count} items take ${cursor.pos - itemsStart}`);
      }
    }
  };
}

function checkCount(cursor: Cursor, kind: string, blockStart: number, count: number, minItemBytes: number): void {
  if (minItemBytes === 0) {
    if (count > cursor.zeroByteItemsLeft) {
      throw reject(cursor, 'BLOCK_COUNT', `${kind} block count ${count} at offset ${blockStart} exceeds the limit of ${MAX_ZERO_BYTE_ITEMS} zero-byte items per record`);
    }
    cursor.zeroByteItemsLeft -= count;
    return;
  }
  const left = cursor.bytes.length - cursor.pos;
  if (count > left / minItemBytes) {
    throw reject(cursor, 'BLOCK_COUNT', `${kind} block count ${count} at offset ${blockStart} cannot fit in the ${left} bytes left (items take at least ${minItemBytes} each)`);
  }
}

function skipNothing(): void {}

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

function walkInt(cursor: Cursor): void {
  const start = cursor.pos;
  const value = readVarint(cursor);
  if (value < INT_MIN || value > INT_MAX) throw reject(cursor, 'MALFORMED', `int ${value} at offset ${start} is outside the 32-bit range`);
}

function skipFixedWidth(width: number): Walk {
  return (cursor) => {
    if (width > cursor.bytes.length - cursor.pos) throw truncated(cursor, width);
    cursor.pos += width;
  };
}

function skipLengthPrefixed(cursor: Cursor): void {
  const length = readLength(cursor); // Read first: `pos += f()` would add to the pos before f moved it.
  cursor.pos += length;
}

/** Reads the length of a string or bytes value and checks that many bytes follow. */
function readLength(cursor: Cursor): number {
  const start = cursor.pos;
  const length = readVarint(cursor);
  if (length < 0) throw reject(cursor, 'MALFORMED', `negative length ${length} at offset ${start}`);
  if (length > cursor.bytes.length - cursor.pos) throw truncated(cursor, length);
  return length;
}

const PROTO_KEY = Buffer.from('__proto__');

/**
 * A map key. avsc stores entries with `map[key] = value`, so a "__proto__" key would replace the
 * decoded object's prototype (or vanish); such records are rejected rather than silently altered.
 */
function skipMapKey(cursor: Cursor): void {
  const length = readLength(cursor);
  const { bytes, pos } = cursor;
  if (length === PROTO_KEY.length && PROTO_KEY.equals(bytes.subarray(pos, pos + length))) {
    throw reject(cursor, 'MALFORMED', `map key "__proto__" at offset ${pos} is not supported (it would replace the decoded object's prototype)`);
  }
  cursor.pos += length;
}

function skipVarint(cursor: Cursor): void {
  const { bytes } = cursor;
  const start = cursor.pos;
  for (let pos = start; pos < bytes.length; pos++) {
    if ((bytes[pos] & 0x80) === 0) {
      cursor.pos = pos + 1;
      return;
    }
    if (pos - start === MAX_VARINT_BYTES - 1) throw varintTooLong(cursor, start);
  }
  throw reject(cursor, 'MALFORMED', `truncated: the varint at offset ${start} runs past the end`);
}

/** A zig-zag varint as a number; values beyond 2^53 lose precision, which no bound check minds. */
function readVarint(cursor: Cursor): number {
  const { bytes } = cursor;
  const start = cursor.pos;
  if (start < bytes.length && bytes[start] < 0x80) {
    const first = bytes[start]; // One byte: the common case for counts, lengths and indexes.
    cursor.pos = start + 1;
    return (first >>> 1) ^ -(first & 1);
  }
  let value = 0;
  let scale = 1;
  for (let pos = start; pos < bytes.length; pos++) {
    const byte = bytes[pos];
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      cursor.pos = pos + 1;
      return value % 2 === 1 ? -(value + 1) / 2 : value / 2;
    }
    if (pos - start === MAX_VARINT_BYTES - 1) throw varintTooLong(cursor, start);
    scale *= 128;
  }
  throw reject(cursor, 'MALFORMED', `truncated: the varint at offset ${start} runs past the end`);
}

function reject(cursor: Cursor, code: DecodeErrorCode, message: string) {
  return decodeError(code, cursor.context === undefined ? message : `${cursor.context}: ${message}`);
}

/** The next value needs `needed` bytes from the cursor but fewer are left. */
function truncated(cursor: Cursor, needed: number) {
  const left = cursor.bytes.length - cursor.pos;
  return reject(cursor, 'MALFORMED', `truncated: ${needed} bytes needed at offset ${cursor.pos} but ${left} left`);
}

function varintTooLong(cursor: Cursor, offset: number) {
  return reject(cursor, 'MALFORMED', `varint at offset ${offset} is longer than ${MAX_VARINT_BYTES} bytes`);
}
