import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { noAudit, type AuditOutcome, type AuditTrail } from '../audit/audit-trail.ts';
import { runAnalystQuery, type AnalystTarget, type AnalystQueryTrace } from '../analytics/analyst-query.ts';
import { authenticateSqlRequest, type SqlPrincipal } from '../analytics/sql-auth.ts';
import { checkLimits, defaultMaxConcurrent, loadSqlEndpointConfig, MAX_SQL_BYTES, type QueryLimits, type SqlCredentials } from '../analytics/sql-config.ts';
import { SqlQueryError } from '../analytics/sql-errors.ts';
import { answerDeadlineMs, CONTENT_TYPES, parseFormat, type ResultFormat } from '../analytics/result-format.ts';
import { runDpQuery } from '../analytics/dp/dp-run.ts';
import type { DpSettings } from '../analytics/dp/dp-settings.ts';
import { detokenizeResultText, type DetokenizeCounts, type SubjectKeys } from '../governance/detokenize-result.ts';

export interface SqlRouteOptions {
  /**
   * The engine's ClickHouse: clickhouseTarget(config) (URL, TLS, or the chDB directory) and the analyst user. With chDB each query gets
   * a session of its own on the directory, in this process (which holds chDB's lock); with a
   * server each query is a request as `analyst` (default CLICKHOUSE_ANALYST_USER and its
   * password), and without one the endpoint answers 503.
   */
  clickhouse: AnalystTarget;
  /** What analysts may read: the topology's output tables and rollups. Admins read every table of the database. */
  analystTables: readonly string[];
  logger: Logger;
  /** Who may ask; default TRIBUTARY_SQL_TOKEN, TRIBUTARY_SQL_ADMIN_TOKEN, TRIBUTARY_SQL_JWT_*. `{}`: none (loopback analysts only). */
  credentials?: SqlCredentials;
  /** Default TRIBUTARY_SQL_MAX_ROWS, _TIMEOUT_MS, _MAX_MEMORY_MB, _MAX_THREADS (README, "For analysts"). */
  limits?: Partial<QueryLimits>;
  /** Queries running at once before 429 (a query holds its place until ClickHouse stops it, answered or not); default TRIBUTARY_SQL_MAX_CONCURRENT, else 4 on a server and 1 on chDB. */
  maxConcurrent?: number;
  /** Default '/sql'. */
  path?: string;
  /** Where every query is recorded (action 'sql.query'); default none. */
  audit?: AuditTrail;
  /** The DP mode (`?dp=1`, a JSON query in the body: analytics/dp/); without it such requests are refused. */
  dp?: DpSettings;
  /**
   * The engine's keyring when data protection is on: `?detokenize=1` (admins only, JSON and
   * JSONEachRow) answers with every token in the result replaced by its clear value. Without
   * it such requests are refused.
   */
  keyring?: () => Promise<SubjectKeys>;
}

/** Formats whose values can be detokenized in place (string literals are JSON). */
const DETOKENIZE_FORMATS: readonly ResultFormat[] = ['JSON', 'JSONEachRow'];

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

/** Refusals (the request was not acceptable) as opposed to failures (it was, but did not work). */
const REFUSALS = new Set(['BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_READ_ONLY', 'NOT_ALLOWED', 'READ_ONLY', 'TOO_LARGE', 'BUSY', 'METHOD_NOT_ALLOWED', 'BUDGET_EXHAUSTED']);

/**
 * POST /sql: the body is one SELECT, `?format=JSON|JSONEachRow|CSV|CSVWithNames|TabSeparated|
 * TabSeparatedWithNames` (default JSON) the result's format. `?dp=1`: the body is a DP query
 * (analytics/dp/dp-query.ts), answered with noisy JSON and the principal's budget left. `?detokenize=1`
 * (admins, JSON/JSONEachRow): tokens in the answer come back in clear (governance/detokenize-result.ts). Answers 200 with ClickHouse's
 * output, or an error status with `{"error": "...", "code": "...", "status": n}` (codes in
 * analytics/sql-errors.ts). Who may ask: analytics/sql-auth.ts; what may run:
 * analytics/analyst-query.ts. Every query is recorded in the audit trail; logs carry the SQL
 * text at debug level only. Register it through the push server's `extraRoutes`.
 */
export function registerSqlRoute(app: TemplatedApp, options: SqlRouteOptions): void {
  const fromEnv = loadSqlEndpointConfig();
  const credentials = options.credentials ?? fromEnv.credentials;
  const limits = checkLimits({ ...fromEnv.limits, ...options.limits });
  const target: AnalystTarget = options.clickhouse.url !== undefined && options.clickhouse.analyst === undefined && fromEnv.analystUser !== undefined ? { ...options.clickhouse, analyst: fromEnv.analystUser } : options.clickhouse;
  const maxConcurrent = options.maxConcurrent ?? fromEnv.maxConcurrent ?? defaultMaxConcurrent(target);
  const path = options.path ?? '/sql';
  const audit = options.audit ?? noAudit;
  const logger = options.logger.child({ component: 'sql' });
  if (target.url !== undefined && target.analyst === undefined) {
    logger.warn('POST /sql answers 503: analyst queries against a ClickHouse server need CLICKHOUSE_ANALYST_USER (a read-only user; README "For analysts")');
  }
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
    const dpMode = req.getQuery('dp') === '1';
    const detokenizing = req.getQuery('detokenize') === '1';
    let detokenized: DetokenizeCounts | undefined;
    const request = new AbortController();
    let closed = false; // answered, or the client went away: res may not be used again
    res.onAborted(() => {
      closed = true;
      request.abort();
    });
    const answer = (status: number, contentType: string, body: string, headers: Record<string, string> = {}) => {
      if (closed) return;
      closed = true;
      res.cork(() => {
        res.writeStatus(STATUS_TEXT[status] ?? `${status} Error`).writeHeader('Content-Type', contentType).writeHeader('Cache-Control', 'no-store').writeHeader('X-Content-Type-Options', 'nosniff');
        if (status === 401) res.writeHeader('WWW-Authenticate', 'Bearer realm="tributary-sql"');
        if (status === 429) res.writeHeader('Retry-After', '1');
        for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
        res.end(body);
      });
    };
    let principal: SqlPrincipal | undefined;
    let format: ResultFormat = 'JSON';
    let sql = '';
    const trace: AnalystQueryTrace = {};
    const record = (outcome: AuditOutcome, reason?: string, rows?: number) =>
      audit.record({
        action: 'sql.query',
        principal: principal?.name ?? 'anonymous',
        ...(principal === undefined ? {} : { role: principal.role }),
        outcome,
        ...(reason === undefined ? {} : { reason }),
        details: { query: trace.canonical ?? sql.slice(0, 4096), rows, format, remote: facts.remoteAddress, ...(detokenizing ? { detokenize: true, ...(detokenized === undefined ? {} : { detokenized }) } : {}) },
      });
    const fail = (error: unknown) => {
      if (closed) return;
      const problem = error instanceof SqlQueryError ? error : new SqlQueryError('INTERNAL', `internal error: ${errorMessage(error)}`, { cause: error });
      const outcome: AuditOutcome = REFUSALS.has(problem.sqlCode) ? 'refused' : 'failed';
      const log = { remote: facts.remoteAddress, principal: principal?.name, role: principal?.role, status: problem.status, code: problem.sqlCode, ms: Math.round(performance.now() - started) };
      if (problem.sqlCode === 'INTERNAL') logger.error({ ...log, err: errorMessage(error) }, 'sql query failed');
      else logger.info(log, outcome === 'refused' ? 'sql query refused' : 'sql query failed');
      logger.debug({ ...log, reason: problem.message, sql: sql.slice(0, 4096), canonical: trace.canonical }, 'sql query text');
      record(outcome, problem.message).catch((auditError) => logger.error({ err: errorMessage(auditError) }, 'the audit trail did not record a refused sql query'));
      answer(problem.status, 'application/json; charset=utf-8', JSON.stringify(problem));
    };

    // The body must be read from this handler; who is asking is checked meanwhile.
    const access = authenticateSqlRequest(facts, credentials).then(
      (who) => ({ who }),
      (error: unknown) => ({ error }),
    );
    readBody(res, MAX_SQL_BYTES, (body) => {
      void access.then((checked) => {
        if ('error' in checked) return fail(checked.error);
        principal = checked.who;
        if (body === null) return fail(new SqlQueryError('TOO_LARGE', `the SQL text is longer than ${MAX_SQL_BYTES} bytes`));
        sql = body;
        try {
          format = parseFormat(formatParam);
        } catch (error) {
          return fail(error);
        }
        if (detokenizing) {
          const refusal = detokenizeRefusal(checked.who, format, dpMode, options.keyring !== undefined);
          if (refusal !== undefined) return fail(refusal);
        }
        if (!dpMode && options.dp?.analystsDpOnly === true && checked.who.role !== 'admin') {
          return fail(new SqlQueryError('FORBIDDEN', 'analysts are answered with differential privacy only on this engine (TRIBUTARY_DP_ONLY=1): send a DP query to POST /sql?dp=1'));
        }
        if (running >= maxConcurrent) return fail(new SqlQueryError('BUSY', `${maxConcurrent} queries are running already; retry in a moment`));
        running++;
        // ClickHouse stops the query at max_execution_time; this deadline also covers a server
        // that never answers (and a chDB query that does not notice the abort: it is left to finish).
        const deadline = setTimeout(() => {
          request.abort();
          fail(new SqlQueryError('TIME_LIMIT', `no answer within ${answerDeadlineMs(limits)} ms (the limit is ${limits.timeoutMs} ms)`));
        }, answerDeadlineMs(limits));
        const dp = options.dp;
        const run = !dpMode
          ? runAnalystQuery(target, sql, { role: checked.who.role, format, limits, analystTables: options.analystTables, signal: request.signal }, trace)
          : dp === undefined
            ? Promise.reject(new SqlQueryError('BAD_REQUEST', 'the DP mode is not configured on this engine (README "Data protection")'))
            : runDpQuery(target, sql, { principal: checked.who.name, role: checked.who.role, limits, analystTables: options.analystTables, settings: dp, signal: request.signal }).then(({ statement, ...answer }) => {
                trace.canonical = statement;
                format = 'JSON';
                return { text: JSON.stringify(answer), canonical: statement, rows: answer.data.length };
              });
        const keyring = options.keyring;
        (detokenizing && keyring !== undefined
          ? run.then(async (result) => {
              const opened = await detokenizeResultText(result.text, await keyring());
              detokenized = opened.counts;
              return { ...result, text: format === 'JSON' ? withCounts(opened.text, opened.counts) : opened.text };
            })
          : run
        )
          .then(
            async (result) => {
              // Fail closed: an answer the audit trail could not record is not sent.
              try {
                await record('ok', undefined, result.rows);
              } catch (auditError) {
                logger.error({ err: errorMessage(auditError) }, 'the audit trail did not record a sql query');
                return fail(new SqlQueryError('UNAVAILABLE', 'the audit trail cannot record queries right now; retry later'));
              }
              const log = { remote: facts.remoteAddress, principal: principal?.name, role: principal?.role, status: 200, ms: Math.round(performance.now() - started), bytes: result.text.length, rows: result.rows };
              logger.info(log, 'sql query answered');
              logger.debug({ ...log, canonical: result.canonical }, 'sql query text');
              const counts: Record<string, string> = detokenized === undefined ? {} : { 'X-Tributary-Detokenized': `opened=${detokenized.opened}, erased=${detokenized.erased}, unreadable=${detokenized.unreadable}` };
              answer(200, CONTENT_TYPES[format], result.text, counts);
            },
            (error) => fail(error),
          )
          .finally(() => {
            clearTimeout(deadline);
            running--;
          });
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

/** Why a `?detokenize=1` request is refused, if it is. */
function detokenizeRefusal(who: SqlPrincipal, format: ResultFormat, dpMode: boolean, available: boolean): SqlQueryError | undefined {
  if (who.role !== 'admin') return new SqlQueryError('FORBIDDEN', 'only the admin role may detokenize (?detokenize=1); analysts read tokens and keyed hashes as they are stored');
  if (!available) return new SqlQueryError('BAD_REQUEST', 'this engine runs without data protection, so its tables hold no tokens to detokenize');
  if (dpMode) return new SqlQueryError('BAD_REQUEST', 'a DP answer holds no tokens: send ?dp=1 or ?detokenize=1, not both');
  if (!DETOKENIZE_FORMATS.includes(format)) return new SqlQueryError('BAD_REQUEST', `?detokenize=1 answers in ${DETOKENIZE_FORMATS.join(' or ')} only, not ${format}`);
  return undefined;
}

/** ClickHouse's JSON answer with the counts as a last field: `"detokenize": {opened, erased, unreadable}`. */
function withCounts(text: string, counts: DetokenizeCounts): string {
  const end = text.lastIndexOf('}');
  if (end < 0) throw new SqlQueryError('INTERNAL', 'the answer is not ClickHouse JSON');
  return `${text.slice(0, end).trimEnd()},\n\t"detokenize": ${JSON.stringify(counts)}\n}\n`;
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
