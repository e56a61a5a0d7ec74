import { ConfigError } from '../core/errors.ts';
import type { ColumnDef } from './column-def.ts';
import { quoteIdentifier } from './sql.ts';

/** Turns a JS value into what JSONEachRow needs for its column; null when the value fits as is. */
export type Converter = ((value: unknown) => unknown) | null;

/** One top-level field of an Avro record and how it is stored. */
export interface AvroFieldColumn {
  name: string;
  column: ColumnDef;
  convert: Converter;
  /** Set for timestamp-millis/-micros fields: epoch ms (or us) in an Int64. */
  timeUnit?: 'millis' | 'micros';
  nullable: boolean;
}

interface MappedType {
  sql: string;
  convert: Converter;
  nullable: boolean;
  timeUnit?: 'millis' | 'micros';
}

type AvroSchema = string | AvroSchema[] | { [key: string]: unknown };

/**
 * The columns of an Avro record schema, in schema order. Each field's type is mapped to the
 * ClickHouse type that both 18.16 and current servers accept; timestamps stay epoch integers
 * (18.16 has no DateTime64) and get a readable `<field>_time` ALIAS column next to them.
 */
export function avroFieldColumns(schema: object): AvroFieldColumn[] {
  const record = schema as { type?: unknown; name?: unknown; fields?: unknown };
  if (record.type !== 'record' || !Array.isArray(record.fields)) {
    throw schemaError(String(record.name ?? '(unnamed)'), 'is not an Avro record schema', 'give a schema with "type": "record" and "fields"');
  }
  const named = new Map<string, AvroSchema>();
  return (record.fields as Array<{ name: string; type: AvroSchema; doc?: string }>).map((field) => {
    const mapped = mapType(field.type, named, field.name);
    const column: ColumnDef = { name: field.name, type: mapped.sql };
    if (typeof field.doc === 'string') column.comment = field.doc;
    const result: AvroFieldColumn = { name: field.name, column, convert: mapped.convert, nullable: mapped.nullable };
    if (mapped.timeUnit) result.timeUnit = mapped.timeUnit;
    return result;
  });
}

/** The readable ALIAS column for a timestamp field: `<field>_time DateTime`. */
export function timeAliasColumn(field: AvroFieldColumn): ColumnDef {
  const divisor = field.timeUnit === 'micros' ? 1_000_000 : 1000;
  return {
    name: `${field.name}_time`,
    type: field.nullable ? 'Nullable(DateTime)' : 'DateTime',
    alias: `toDateTime(intDiv(${quoteIdentifier(field.name)}, ${divisor}))`,
    comment: `${field.name} as DateTime (seconds)`,
  };
}

function mapType(type: AvroSchema, named: Map<string, AvroSchema>, path: string): MappedType {
  if (typeof type === 'string') return mapNamed(type, named, path);
  if (Array.isArray(type)) return mapUnion(type, named, path);
  const logical = type.logicalType;
  switch (type.type) {
    case 'array': {
      const items = mapType(type.items as AvroSchema, named, `${path}[]`);
      const convertItem = items.convert;
      return { sql: `Array(${items.sql})`, nullable: false, convert: convertItem ? (v) => (Array.isArray(v) ? v.map(convertItem) : v) : null };
    }
    case 'enum':
      remember(type, named);
      return { sql: 'String', nullable: false, convert: null };
    case 'fixed':
      remember(type, named);
      return { sql: 'String', nullable: false, convert: bytesToBase64 };
    case 'map':
      throw schemaError(path, 'is an Avro map, which ClickHouse 18.16 cannot store', 'use an array of records flattened into parallel arrays, or a JSON string');
    case 'record':
      throw schemaError(path, 'is a nested record', 'flatten its fields into the outer record, or store it as a JSON string');
  }
  if (logical === 'decimal') {
    throw schemaError(path, 'is an Avro decimal', 'store a long of minor units (cents) or a double');
  }
  if (type.type === 'long' && (logical === 'timestamp-millis' || logical === 'local-timestamp-millis')) {
    return { sql: 'Int64', nullable: false, convert: timestampToJson, timeUnit: 'millis' };
  }
  if (type.type === 'long' && (logical === 'timestamp-micros' || logical === 'local-timestamp-micros')) {
    return { sql: 'Int64', nullable: false, convert: longToJson, timeUnit: 'micros' };
  }
  // Other logical types (date, time-millis, uuid) keep their underlying type.
  return mapType(type.type as AvroSchema, named, path);
}

function mapNamed(name: string, named: Map<string, AvroSchema>, path: string): MappedType {
  switch (name) {
    case 'string':
      return { sql: 'String', nullable: false, convert: null };
    case 'int':
      return { sql: 'Int32', nullable: false, convert: null };
    case 'long':
      return { sql: 'Int64', nullable: false, convert: longToJson };
    case 'float':
      return { sql: 'Float32', nullable: false, convert: floatToJson };
    case 'double':
      return { sql: 'Float64', nullable: false, convert: floatToJson };
    case 'boolean':
      return { sql: 'UInt8', nullable: false, convert: booleanToJson };
    case 'bytes':
      return { sql: 'String', nullable: false, convert: bytesToBase64 };
    case 'null':
      throw schemaError(path, 'is always null', 'remove the field or make it a union ["null", <type>]');
  }
  const definition = named.get(name);
  if (definition === undefined) throw schemaError(path, `refers to unknown type "${name}"`, 'define the type before using it');
  return mapType(definition, named, path);
}

function mapUnion(members: AvroSchema[], named: Map<string, AvroSchema>, path: string): MappedType {
  const others = members.filter((member) => member !== 'null');
  if (others.length !== 1) {
    throw schemaError(path, `is a union of ${others.length} non-null types`, 'use a single type, optionally with "null": ["null", "string"]');
  }
  const inner = mapType(others[0]!, named, path);
  if (others.length === members.length) return inner;
  const convertInner = inner.convert;
  if (inner.sql.startsWith('Array(')) {
    // ClickHouse has no Nullable(Array): a null array is stored empty.
    return { ...inner, convert: (v) => (v == null ? [] : convertInner ? convertInner(v) : v) };
  }
  const mapped: MappedType = { sql: `Nullable(${inner.sql})`, nullable: true, convert: convertInner ? (v) => (v == null ? null : convertInner(v)) : null };
  if (inner.timeUnit) mapped.timeUnit = inner.timeUnit;
  return mapped;
}

function remember(type: { [key: string]: unknown }, named: Map<string, AvroSchema>): void {
  if (typeof type.name !== 'string') return;
  named.set(type.name, type);
  if (typeof type.namespace === 'string') named.set(`${type.namespace}.${type.name}`, type);
}

function schemaError(path: string, problem: string, fix: string): ConfigError {
  return new ConfigError(`Avro field ${path}`, problem, fix);
}

// Converters. JSONEachRow on 18.16 reads neither true/false nor Buffers, and JSON has no
// NaN/Infinity or bigint; these keep every value representable on both servers.

function booleanToJson(value: unknown): unknown {
  return value ? 1 : 0;
}

function longToJson(value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

function timestampToJson(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : longToJson(value);
}

function floatToJson(value: unknown): unknown {
  // Both servers parse "NaN", "Infinity" and "-Infinity" in quotes; JSON.stringify would write null.
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

/** JSON strings cannot carry arbitrary bytes (the server stores UTF-8), so bytes are base64. */
function bytesToBase64(value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') : value;
}
