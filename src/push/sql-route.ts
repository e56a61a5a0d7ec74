import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { readOnlyStatement, MAX_SQL_BYTES } from '../analytics/read-only-sql.ts';
import { checkSqlAccess } from '../analytics/sql-access.ts';
import { checkLimits, checkToken, loadSqlEndpointConfig, type QueryLimits } from '../analytics/sql-config.ts';
import { SqlQueryError } from '../analytics/sql-errors.ts';
import { answerDeadlineMs, CONTENT_TYPES, parseFormat, runReadOnlyQuery, type ReadOnlyTarget } from '../analytics/read-only-query.ts';

export interface SqlRouteOptions {
  /**
   * The engine's ClickHouse: clickhouseTarget(config) (the URL with its user, password and TLS, or the chDB directory).
   * With a URL each query is a request of its own; with chDB each query gets a session of its
   * own on the same directory, in this process (which holds chDB's lock).
   */
  clickhouse: ReadOnlyTarget;
  logger: Logger;
  /** Bearer token; default TRIBUTARY_SQL_TOKEN. null: none (loopback clients only), whatever the environment says. */
  token?: string | null;
  /** Default TRIBUTARY_SQL_MAX_ROWS, TRIBUTARY_SQL_TIMEOUT_MS (README, "For analysts"). */
  limits?: Partial<QueryLimits>;
  /** Queries running at once before 429; default TRIBUTARY_SQL_MAX_CONCURRENT (4). */
  maxConcurrent?: number;
  /** Default '/sql'. */
  path?: string;
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  405: '405 Method Not Allowed',
  413: '413 Content Too Large',
  422: '422 Unprocessable Content',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
  504: '504 Gateway Timeout',
};

/**
 * POST /sql: the body is one read-only statement, `?format=JSON|JSONEachRow|CSV|CSVWithNames|
 * TabSeparated|TabSeparatedWithNames` (default JSON) the result's format. Answers 200 with
 * ClickHouse's output, or an error status with `{"error": "...", "code": "...", "status": n}`
 * (codes in analytics/sql-errors.ts). Access: analytics/sql-access.ts. Register it through the
 * push server's `extraRoutes`; it keeps no connection open between queries.
 */
export function registerSqlRoute(app: TemplatedApp, options: SqlRouteOptions): void {
  const fromEnv = loadSqlEndpointConfig();
  const token = options.token === null ? undefined : (options.token ?? fromEnv.token);
  if (token !== undefined) checkToken(token, 'sql token');
  const limits = checkLimits({ ...fromEnv.limits, ...options.limits });
  const maxConcurrent = options.maxConcurrent ?? fromEnv.maxConcurrent;
  const path = options.path ?? '/sql';
  const logger = options.logger.child({ component: 'sql' });
  let running = 0;

  app.post(path, (res, req) => {
    const started = performance.now();
    const facts = {
      remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(),
      authorization: req.getHeader('authorization'),
      host: req.getHeader('host'),
      origin: req.getHeader('origin'),
    };
    const formatParam = req.getQuery('format');
    const request = new AbortController();
    let closed = false; // answered, or the client went away: res may not be used again
    res.onAborted(() => {
      closed = true;
      request.abort();
    });
    const answer = (status: number, contentType: string, body: string) => {
      if (closed) return;
      closed = true;
      res.cork(() => {
        res.writeStatus(STATUS_TEXT[status] ?? `${status} Error`).writeHeader('Content-Type', contentType).writeHeader('Cache-Control', 'no-store').writeHeader('X-Content-Type-Options', 'nosniff');
        if (status === 401) res.writeHeader('WWW-Authenticate', 'Bearer realm="tributary-sql"');
        if (status === 429) res.writeHeader('Retry-After', '1');
        res.end(body);
      });
    };
    const fail = (error: unknown, sql?: string) => {
      if (closed) return;
      const problem = error instanceof SqlQueryError ? error : new SqlQueryError('INTERNAL', `internal error: ${errorMessage(error)}`, { cause: error });
      const log = { remote: facts.remoteAddress, status: problem.status, code: problem.sqlCode, ms: Math.round(performance.now() - started), sql: sql?.slice(0, 300) };
      if (problem.sqlCode === 'INTERNAL') logger.error({ ...log, err: errorMessage(error) }, 'sql query failed');
      else logger.info(log, `sql query refused: ${problem.message}`);
      answer(problem.status, 'application/json; charset=utf-8', JSON.stringify(problem));
    };

    try {
      checkSqlAccess(facts, token);
    } catch (error) {
      return fail(error);
    }
    readBody(res, MAX_SQL_BYTES, (body) => {
      if (body === null) return fail(new SqlQueryError('TOO_LARGE', `the SQL text is longer than ${MAX_SQL_BYTES} bytes`));
      let sql: string;
      let format: ReturnType<typeof parseFormat>;
      try {
        format = parseFormat(formatParam);
        sql = readOnlyStatement(body);
      } catch (error) {
        return fail(error, body);
      }
      if (running >= maxConcurrent) return fail(new SqlQueryError('BUSY', `${maxConcurrent} queries are running already; retry in a moment`), sql);
      running++;
      // The server stops the query at max_execution_time; this deadline also covers a server
      // that never answers (and a chDB query that does not notice the abort: it is left to finish).
      const deadline = setTimeout(() => {
        request.abort();
        fail(new SqlQueryError('TIME_LIMIT', `no answer within ${answerDeadlineMs(limits)} ms (the limit is ${limits.timeoutMs} ms)`), sql);
      }, answerDeadlineMs(limits));
      runReadOnlyQuery(options.clickhouse, sql, format, limits, request.signal)
        .then(
          (result) => {
            logger.info({ remote: facts.remoteAddress, status: 200, ms: Math.round(performance.now() - started), bytes: result.length, sql: sql.slice(0, 300) }, 'sql query answered');
            answer(200, CONTENT_TYPES[format], result);
          },
          (error) => fail(error, sql),
        )
        .finally(() => {
          clearTimeout(deadline);
          running--;
        });
    });
  });

  app.any(path, (res) => {
    res
      .writeStatus(STATUS_TEXT[405]!)
      .writeHeader('Allow', 'POST')
      .writeHeader('Content-Type', 'application/json; charset=utf-8')
      .end(JSON.stringify(new SqlQueryError('METHOD_NOT_ALLOWED', `send the SQL as the body of a POST to ${path}`)));
  });
}

/** Collects the request body as UTF-8 (null once it passes `maxBytes`: the rest is ignored). */
function readBody(res: HttpResponse, maxBytes: number, done: (body: string | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    if (!over) {
      size += chunk.byteLength;
      if (size > maxBytes) over = true;
      // uWS neuters the chunk when this handler returns: copy it.
      else chunks.push(Buffer.from(chunk.slice(0)));
    }
    if (isLast) done(over ? null : Buffer.concat(chunks).toString('utf8'));
  });
}
