import { errorMessage } from '../core/errors.ts';
import { decodeError, type Decoder, type Encoder } from './decoder.ts';
import { EncodeError } from './encode-error.ts';

/** A record in JSON is an object at the top level; arrays, strings, numbers and null are rejected. */
function isRecordObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** Decodes UTF-8 JSON objects. `decode` throws DecodeError (EMPTY, MALFORMED) only. */
export function createJsonDecoder<T extends object = Record<string, unknown>>(): Decoder<T> {
  return {
    format: 'json',
    decode(bytes: Buffer): T {
      if (bytes.length === 0) throw decodeError('EMPTY', 'json: empty payload');
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch (error) {
        throw decodeError('MALFORMED', `json: ${errorMessage(error)}`, error);
      }
      if (!isRecordObject(value)) throw decodeError('MALFORMED', `json: expected an object at the top level, got ${describe(value)}`);
      return value as T;
    },
  };
}

/** Encodes objects as UTF-8 JSON; what it writes, createJsonDecoder reads back. Throws EncodeError. */
export function createJsonEncoder<T extends object = Record<string, unknown>>(): Encoder<T> {
  return {
    encode(value: T): Buffer {
      if (!isRecordObject(value)) throw new EncodeError(`json: expected an object, got ${describe(value)}`);
      let text: string;
      try {
        text = JSON.stringify(value);
      } catch (error) {
        throw new EncodeError(`json: cannot encode the value: ${errorMessage(error)}`, error); // BigInt, cycles
      }
      return Buffer.from(text, 'utf8');
    },
  };
}
