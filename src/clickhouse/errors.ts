import { SinkError, errorMessage } from '../core/errors.ts';

/**
 * Server error codes meaning the statement or its rows are wrong: sending them again cannot
 * succeed. Every other failure (network, timeouts, memory limits, too many parts) is transient.
 */
const PERMANENT_CODES = new Set([
  6, // CANNOT_PARSE_TEXT
  16, // NO_SUCH_COLUMN_IN_TABLE
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  44, // ILLEGAL_COLUMN
  53, // TYPE_MISMATCH
  60, // UNKNOWN_TABLE
  62, // SYNTAX_ERROR
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  81, // UNKNOWN_DATABASE
  115, // UNKNOWN_SETTING
  117, // INCORRECT_DATA
  164, // READONLY
  192, // UNKNOWN_USER
  193, // WRONG_PASSWORD
  194, // REQUIRED_PASSWORD
  497, // ACCESS_DENIED
  516, // AUTHENTICATION_FAILED
]);

/**
 * The ClickHouse error code of a failure, if the server (or chDB) produced one. 18.16 errors
 * arrive as plain Errors whose message starts "Code: 27, e.displayText() = ..."; chDB's carry
 * the code as a numeric string property.
 */
export function clickHouseErrorCode(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  const match = /\bCode: (\d+)/.exec(error.message);
  return match ? Number(match[1]) : undefined;
}

export function isPermanentClickHouseError(error: unknown): boolean {
  const code = clickHouseErrorCode(error);
  return code !== undefined && PERMANENT_CODES.has(code);
}

/** Wraps a failed statement as a SinkError whose `retriable` follows the error code. */
export function toSinkError(sink: string, what: string, error: unknown): SinkError {
  const message = firstLine(errorMessage(error));
  return new SinkError(sink, `${what} failed: ${message}`, { retriable: !isPermanentClickHouseError(error), cause: error });
}

/** Server messages span lines (18.16 appends ", e.what() = DB::Exception"); logs want one. */
export function firstLine(message: string): string {
  const line = message.split('\n', 1)[0]!.replace(/, e\.what\(\) = DB::Exception$/, '');
  return line.length > 500 ? line.slice(0, 500) + '…' : line;
}
