import type { Type, types } from 'avsc';
import fc from 'fast-check';

/**
 * Random valid values of any Avro type, as fast-check arbitraries: the seeds that mutations start
 * from, so mutated bytes reach every field of a schema rather than failing at the first byte.
 */

/** Arrays and maps nested deeper than this are empty, so recursive schemas (a tree) stay finite. */
const MAX_DEPTH = 3;
const INT = { min: -(2 ** 31), max: 2 ** 31 - 1 };
// avsc zig-zags longs in floating point: beyond 2^52 they do not round-trip (a known avsc limit).
const LONG = { min: -(2 ** 52), max: 2 ** 52 };

export function valueArbitrary(type: Type, depth = 0): fc.Arbitrary<unknown> {
  switch (type.typeName) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'int':
      return fc.oneof(fc.integer({ min: -200, max: 200 }), fc.integer(INT));
    case 'long':
      return fc.oneof(fc.integer({ min: -200, max: 200 }), fc.integer(LONG), fc.constantFrom(LONG.min, LONG.max, 1_700_000_000_000));
    case 'float':
      return fc.float();
    case 'double':
      return fc.double();
    case 'string':
      return fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 24 }));
    case 'bytes':
      return fc.uint8Array({ maxLength: 16 }).map((array) => Buffer.from(array));
    case 'fixed': {
      const size = (type as types.FixedType).size;
      return fc.uint8Array({ minLength: size, maxLength: size }).map((array) => Buffer.from(array));
    }
    case 'enum':
      return fc.constantFrom(...(type as types.EnumType).symbols);
    case 'array':
      if (depth >= MAX_DEPTH) return fc.constant([]);
      return fc.array(valueArbitrary((type as types.ArrayType).itemsType, depth + 1), { maxLength: 5 });
    case 'map':
      if (depth >= MAX_DEPTH) return fc.constant({});
      return fc.dictionary(
        // avsc writes map entries with map[key] = value: "__proto__" would not survive the encoding.
        fc.string({ maxLength: 8 }).filter((key) => key !== '__proto__'),
        valueArbitrary((type as types.MapType).valuesType as Type, depth + 1),
        { maxKeys: 4, noNullPrototype: true },
      );
    case 'record':
    case 'error': {
      const fields = (type as types.RecordType).fields;
      return fc.record(Object.fromEntries(fields.map((field) => [field.name, valueArbitrary(field.type, depth)])));
    }
    case 'union:unwrapped': {
      const branches = (type as types.UnwrappedUnionType).types;
      // Deep down, prefer a null branch: a union is how a record can refer to itself.
      const shallow = depth >= MAX_DEPTH ? branches.filter((branch) => branch.typeName === 'null') : [];
      return fc.oneof(...(shallow.length > 0 ? shallow : branches).map((branch) => valueArbitrary(branch, depth + 1)));
    }
  }
  if (type.typeName.startsWith('logical:')) return valueArbitrary((type as types.LogicalType).underlyingType, depth);
  throw new TypeError(`fuzz: no value generator for Avro type "${type.typeName}"`);
}
