import type { Type, types } from 'avsc';

/*
 * Facts about the binary layout of an avsc Type that the decode guard needs, computed once per
 * Type when the guard is built. Logical types are laid out as their underlying type.
 */

/**
 * Whether values of `type` can hold an array, a map or an int anywhere (nested, in unions,
 * recursively): what avsc decodes without a bound (block counts; ints of any size).
 */
export function containsArrayMapOrInt(type: Type, visiting = new Set<Type>()): boolean {
  if (visiting.has(type)) return false; // A cycle adds nothing that the first visit did not see.
  visiting.add(type);
  switch (type.typeName) {
    case 'array':
    case 'map':
    case 'int':
      return true;
    case 'record':
    case 'error':
      return (type as types.RecordType).fields.some((field) => containsArrayMapOrInt(field.type, visiting));
    case 'union:unwrapped':
    case 'union:wrapped':
      return unionBranches(type).some((branch) => containsArrayMapOrInt(branch, visiting));
    default: {
      const underlying = logicalUnderlying(type);
      return underlying !== undefined && containsArrayMapOrInt(underlying, visiting);
    }
  }
}

/**
 * The number of bytes every value of `type` takes when that number is the same for all values
 * (double: 8, null: 0, a record of such fields: their sum), else null.
 */
export function fixedWidthOf(type: Type, visiting = new Set<Type>()): number | null {
  switch (type.typeName) {
    case 'null':
      return 0;
    case 'boolean':
      return 1;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return (type as types.FixedType).size;
    case 'record':
    case 'error': {
      if (visiting.has(type)) return null;
      visiting.add(type);
      let width = 0;
      for (const field of (type as types.RecordType).fields) {
        const fieldWidth = fixedWidthOf(field.type, visiting);
        if (fieldWidth === null) return null;
        width += fieldWidth;
      }
      visiting.delete(type);
      return width;
    }
    default: {
      const underlying = logicalUnderlying(type);
      return underlying === undefined ? null : fixedWidthOf(underlying, visiting);
    }
  }
}

/**
 * A lower bound on the bytes any value of `type` takes. It is 0 only for types whose values take
 * no bytes at all (null, empty records), so a block count of such items is not bounded by bytes.
 */
export function minimumWidthOf(type: Type, visiting = new Set<Type>()): number {
  const fixed = fixedWidthOf(type);
  if (fixed !== null) return fixed;
  if (type.typeName === 'record' || type.typeName === 'error') {
    if (visiting.has(type)) return 0;
    visiting.add(type);
    let width = 0;
    for (const field of (type as types.RecordType).fields) width += minimumWidthOf(field.type, visiting);
    visiting.delete(type);
    return width;
  }
  const underlying = logicalUnderlying(type);
  // Every other layout starts with a varint (a number, a length, an index or a block count).
  return underlying === undefined ? 1 : minimumWidthOf(underlying, visiting);
}

export function unionBranches(type: Type): Type[] {
  return (type as types.UnwrappedUnionType).types;
}

export function logicalUnderlying(type: Type): Type | undefined {
  return type.typeName.startsWith('logical:') ? (type as types.LogicalType).underlyingType : undefined;
}
