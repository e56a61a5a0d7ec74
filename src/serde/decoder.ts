import { DecodeError } from '../core/errors.ts';

/**
 * Why a record's bytes could not be decoded; carried as DecodeError.code so dead-letter rows and
 * metrics can be grouped by cause.
 */
export type DecodeErrorCode =
  | 'MALFORMED'
  | 'UNKNOWN_SCHEMA_ID'
  | 'BAD_MAGIC_BYTE'
  | 'BLOCK_COUNT'
  | 'TRAILING_BYTES'
  | 'EMPTY';

/** Turns one record's bytes into a value. `decode` throws DecodeError and nothing else. */
export interface Decoder<T> {
  /** The wire format, as named in a source spec ('avro', 'avro-confluent', 'json'). */
  readonly format: string;
  decode(bytes: Buffer): T;
}

/** Turns one value into a record's bytes. `encode` throws EncodeError for values it cannot write. */
export interface Encoder<T> {
  encode(value: T): Buffer;
}

export function decodeError(code: DecodeErrorCode, message: string, cause?: unknown): DecodeError {
  return new DecodeError(message, cause === undefined ? { code } : { code, cause });
}
