import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { checkSqlAccess } from '../analytics/sql-access.ts';
import { checkToken, loadSqlEndpointConfig } from '../analytics/sql-config.ts';
import { SqlQueryError } from '../analytics/sql-errors.ts';
import { StateUnavailableError, type KeyValueStore } from '../state/key-value-store.ts';

export interface StateRouteOptions {
  /** The engine's hot state (memory in the embedded mode, Redis with REDIS_URL). */
  store: () => Promise<KeyValueStore>;
  logger: Logger;
  /** Bearer token; default TRIBUTARY_SQL_TOKEN (the same rule as POST /sql); null: none. */
  token?: string | null;
  /**
   * The key the store holds for a requested one: under data protection, online state keys end
   * in the subject's pseudonym, and a lookup by the clear id is hashed the same way.
   */
  storeKey?: (key: string) => Promise<string>;
}

/** What GET /state answers for a key an online-state sink wrote ({ value, eventTime, updatedAt }). */
export interface StateAnswer {
  key: string;
  found: boolean;
  value?: unknown;
  /** Event time of the row the value came from (epoch ms). */
  eventTime?: number;
  /** When the engine wrote it (epoch ms). */
  updatedAt?: number;
  /** Milliseconds since `updatedAt`: the value's freshness. */
  ageMs?: number;
  /** True while the store missed updates (Redis was down): a newer value may exist. */
  stale: boolean;
}

const STATUS = { 200: '200 OK', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found', 503: '503 Service Unavailable' } as const;

/**
 * GET /state?key=features:card:card-00042: the latest value an online-state sink wrote for a
 * key (features, predictions), with its freshness, for services that need the current features
 * of an entity. 200 with a StateAnswer, 404 (found: false) when the key is missing or expired,
 * 503 when the store cannot be read (retriable). Access: as POST /sql (analytics/sql-access.ts).
 */
export function registerStateRoute(app: TemplatedApp, options: StateRouteOptions): void {
  const token = options.token === null ? undefined : (options.token ?? loadSqlEndpointConfig().token);
  if (token !== undefined) checkToken(token, 'state token');
  app.get('/state', (res, req) => {
    const facts = { remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(), authorization: req.getHeader('authorization'), host: req.getHeader('host'), origin: req.getHeader('origin') };
    const key = req.getQuery('key') ?? ''; // uWS decodes it
    let closed = false;
    res.onAborted(() => (closed = true));
    const answer = (status: keyof typeof STATUS, body: unknown) => {
      if (closed) return;
      closed = true;
      res.cork(() => send(res, STATUS[status], body));
    };
    try {
      checkSqlAccess(facts, token);
    } catch (error) {
      const problem = error as SqlQueryError;
      return answer(problem.status === 401 ? 401 : 403, { error: problem.message, code: problem.sqlCode });
    }
    if (key === '') return answer(400, { error: 'name the key: GET /state?key=<key>', code: 'BAD_REQUEST' });
    let stored = '(not resolved)';
    Promise.all([options.store(), options.storeKey ? options.storeKey(key) : key])
      .then(([store, storeKey]) => store.lookup<{ value?: unknown; eventTime?: number; updatedAt?: number }>((stored = storeKey)))
      .then(
        ({ value, stale, ageMs }) => {
          if (value === undefined) return answer(404, { key, found: false, stale } satisfies StateAnswer);
          answer(200, { key, found: true, value: value.value, eventTime: value.eventTime, updatedAt: value.updatedAt, ageMs, stale } satisfies StateAnswer);
        },
        (error: unknown) => {
          // The stored key: the requested one may name a subject in clear.
          if (!(error instanceof StateUnavailableError)) options.logger.error({ err: errorMessage(error), key: stored }, 'state lookup failed');
          answer(503, { error: `the state store cannot be read: ${errorMessage(error)}`, code: 'UNAVAILABLE', retriable: true });
        },
      );
  });
}

function send(res: HttpResponse, status: string, body: unknown): void {
  res.writeStatus(status).writeHeader('Content-Type', 'application/json; charset=utf-8').writeHeader('Cache-Control', 'no-store').end(JSON.stringify(body));
}
