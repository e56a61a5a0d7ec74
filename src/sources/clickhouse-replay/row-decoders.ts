import { ConfigError } from '../../core/errors.ts';
import { avroFieldColumns } from '../../clickhouse/avro-columns.ts';

/** Turns one column of a JSON result row back into the value the Avro decoder would have given. */
export type ColumnDecoder = (value: unknown) => unknown;

/** A top-level field of the schema: its column, how to read it back, and its Avro default. */
export interface FieldDecoder {
  name: string;
  decode: ColumnDecoder;
  /** ClickHouse type the table sink gives the field (avro-columns.ts). */
  type: string;
  nullable: boolean;
  /** Set for timestamp fields (epoch ms or us in an Int64). */
  timeUnit?: 'millis' | 'micros';
  /** The field's Avro default, decoded; `hasDefault` false when the schema gives none. */
  hasDefault: boolean;
  defaultValue?: unknown;
}

type AvroSchema = string | AvroSchema[] | { [key: string]: unknown };

/**
 * The inverse of the table sink's column mapping (avro-columns.ts), for rows read back as JSON
 * with 64-bit integers quoted and NaN/Infinity as "nan"/"inf" (the replay asks for both): longs
 * and timestamps become numbers again, booleans stored as UInt8 booleans, bytes stored as base64
 * Buffers, floats float32 values. A null array was stored empty and comes back empty.
 */
export function fieldDecoders(schema: object): FieldDecoder[] {
  const columns = avroFieldColumns(schema); // rejects what no table could store, with its reason
  const fields = (schema as { fields: Array<{ name: string; type: AvroSchema; default?: unknown }> }).fields;
  const named = new Map<string, AvroSchema>();
  return fields.map((field, i) => {
    const column = columns[i]!;
    const decode = decoderOf(field.type, named);
    const decoder: FieldDecoder = { name: field.name, decode, type: column.column.type, nullable: column.nullable, hasDefault: 'default' in field };
    if (column.timeUnit) decoder.timeUnit = column.timeUnit;
    if ('default' in field) decoder.defaultValue = defaultOf(field.type, field.default, named);
    return decoder;
  });
}

function decoderOf(type: AvroSchema, named: Map<string, AvroSchema>): ColumnDecoder {
  if (typeof type === 'string') return namedDecoder(type, named);
  if (Array.isArray(type)) {
    const inner = decoderOf(type.find((member) => member !== 'null')!, named);
    return (value) => (value === null ? null : inner(value));
  }
  switch (type.type) {
    case 'array': {
      const item = decoderOf(type.items as AvroSchema, named);
      return (value) => (Array.isArray(value) ? value.map(item) : []);
    }
    case 'enum':
      remember(type, named);
      return identity;
    case 'fixed':
      remember(type, named);
      return bytes;
  }
  return decoderOf(type.type as AvroSchema, named); // logical types read as their underlying type
}

function namedDecoder(name: string, named: Map<string, AvroSchema>): ColumnDecoder {
  switch (name) {
    case 'string':
    case 'int':
      return identity;
    case 'long':
      return long;
    case 'float':
      return (value) => Math.fround(double(value) as number);
    case 'double':
      return double;
    case 'boolean':
      return (value) => value === 1 || value === true || value === '1';
    case 'bytes':
      return bytes;
  }
  return decoderOf(named.get(name)!, named); // avroFieldColumns checked that it is defined
}

/** An Avro field default as a decoded value: bytes defaults are strings of code points 0-255. */
function defaultOf(type: AvroSchema, value: unknown, named: Map<string, AvroSchema>): unknown {
  const first = Array.isArray(type) ? type[0]! : type;
  const resolved = typeof first === 'string' ? (named.get(first) ?? first) : first;
  const base = typeof resolved === 'string' ? resolved : (resolved as { type?: unknown }).type;
  return (base === 'bytes' || base === 'fixed') && typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
}

function remember(type: { [key: string]: unknown }, named: Map<string, AvroSchema>): void {
  if (typeof type.name !== 'string') return;
  named.set(type.name, type);
  if (typeof type.namespace === 'string') named.set(`${type.namespace}.${type.name}`, type);
}

function identity(value: unknown): unknown {
  return value;
}

/** Int64 comes quoted; Number() is exact for the safe integers avsc decodes longs to. */
function long(value: unknown): unknown {
  return typeof value === 'string' ? Number(value) : value;
}

const SPECIAL: Record<string, number> = { nan: NaN, '-nan': NaN, inf: Infinity, '+inf': Infinity, '-inf': -Infinity };

function double(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const special = SPECIAL[value.toLowerCase()];
  return special ?? Number(value);
}

function bytes(value: unknown): unknown {
  return typeof value === 'string' ? Buffer.from(value, 'base64') : value;
}

/** The field named as the replay's time column: a non-null integer column of epoch ms. */
export function timeFieldIndex(decoders: FieldDecoder[], name: string, table: string): number {
  const index = decoders.findIndex((d) => d.name === name);
  const field = decoders[index];
  if (field === undefined || field.nullable || !/^Int(32|64)$/.test(field.type) || field.timeUnit === 'micros') {
    const candidates = decoders.filter((d) => !d.nullable && /^Int(32|64)$/.test(d.type) && d.timeUnit !== 'micros').map((d) => d.name);
    throw new ConfigError(
      `clickhouse replay ${table} time column`,
      field === undefined ? `the schema has no field "${name}"` : `"${name}" is ${field.type}${field.timeUnit === 'micros' ? ' in microseconds' : ''}, not a non-null column of epoch milliseconds`,
      `name a timestamp-millis field: ${candidates.join(', ') || '(none)'}`,
    );
  }
  return index;
}
