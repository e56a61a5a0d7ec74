import { TributaryError, errorMessage } from '../core/errors.ts';
import { clickHouseErrorCode, firstLine } from '../clickhouse/errors.ts';

/**
 * Why an analyst query got no result, as the SQL endpoint answers it: an HTTP status and a
 * stable code (both documented in the README, "For analysts").
 */
export type SqlErrorCode =
  | 'BAD_REQUEST' // empty SQL, a syntax error, unknown ?format=, a FORMAT clause, several statements
  | 'UNAUTHORIZED' // a credential is configured and the request lacks it or has another
  | 'FORBIDDEN' // no credential configured and the client is not on loopback (or the Host/Origin is not); ?detokenize=1 from an analyst
  | 'NOT_READ_ONLY' // not a SELECT statement, or INTO OUTFILE
  | 'NOT_ALLOWED' // outside the allowlist: SETTINGS, a function, table function, table or database the role may not use
  | 'READ_ONLY' // ClickHouse itself refused it in readonly mode or denied access
  | 'METHOD_NOT_ALLOWED'
  | 'TOO_LARGE' // the SQL text is over the size limit
  | 'ROW_LIMIT' // the result has more rows (or bytes) than allowed
  | 'TIME_LIMIT' // the query ran past the time limit
  | 'BUSY' // too many queries running at once
  | 'BUDGET_EXHAUSTED' // a DP query would pass the principal's privacy budget (ε)
  | 'QUERY_ERROR' // ClickHouse rejected the query (syntax, unknown table or column, types)
  | 'UNAVAILABLE' // ClickHouse (or the chDB directory) cannot be reached or opened
  | 'INTERNAL'; // a bug: the endpoint failed on its own

export const SQL_ERROR_STATUS: Record<SqlErrorCode, number> = {
  BAD_REQUEST: 400,
  QUERY_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_READ_ONLY: 403,
  NOT_ALLOWED: 403,
  READ_ONLY: 403,
  METHOD_NOT_ALLOWED: 405,
  TOO_LARGE: 413,
  ROW_LIMIT: 422,
  BUSY: 429,
  BUDGET_EXHAUSTED: 403,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  TIME_LIMIT: 504,
};

/** A query the endpoint (or `tributary query`) refused or could not run. */
export class SqlQueryError extends TributaryError {
  readonly status: number;
  readonly sqlCode: SqlErrorCode;
  constructor(code: SqlErrorCode, message: string, options: { cause?: unknown } = {}) {
    // Only a busy endpoint, a timeout or an unreachable server may answer differently later.
    super(message, { retriable: code === 'BUSY' || code === 'UNAVAILABLE' || code === 'TIME_LIMIT', code: `SQL_${code}`, cause: options.cause });
    this.sqlCode = code;
    this.status = SQL_ERROR_STATUS[code];
  }

  /** The JSON body of the endpoint's error answers. */
  toJSON(): { error: string; code: SqlErrorCode; status: number } {
    return { error: this.message, code: this.sqlCode, status: this.status };
  }
}

const TIMEOUT_EXCEEDED = 159;
const READONLY = 164;
const TOO_MANY_ROWS_OR_BYTES = 396;
const ACCESS_DENIED = 497;
const DATABASE_ACCESS_DENIED = 291;
const MEMORY_LIMIT_EXCEEDED = 241;

/** A failure of ClickHouse (or chDB) while running an analyst query, as a SqlQueryError. */
export function queryFailure(error: unknown): SqlQueryError {
  if (error instanceof SqlQueryError) return error;
  const code = clickHouseErrorCode(error);
  const detail = firstLine(errorMessage(error));
  switch (code) {
    case TOO_MANY_ROWS_OR_BYTES:
      return new SqlQueryError('ROW_LIMIT', `the result is larger than the limit (${detail}): add a LIMIT or aggregate`, { cause: error });
    case TIMEOUT_EXCEEDED:
      return new SqlQueryError('TIME_LIMIT', `the query ran longer than the time limit (${detail})`, { cause: error });
    case MEMORY_LIMIT_EXCEEDED:
      return new SqlQueryError('ROW_LIMIT', `the query needs more memory than allowed (${detail})`, { cause: error });
    case READONLY:
    case ACCESS_DENIED:
    case DATABASE_ACCESS_DENIED:
      return new SqlQueryError('READ_ONLY', `ClickHouse refused the query: analyst queries cannot change settings, write, or read outside their database (${detail})`, { cause: error });
    case undefined:
      return new SqlQueryError('UNAVAILABLE', `ClickHouse did not answer: ${detail}`, { cause: error });
    default:
      return new SqlQueryError('QUERY_ERROR', detail, { cause: error });
  }
}
