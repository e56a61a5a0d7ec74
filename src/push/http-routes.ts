import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { errorMessage as describeError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ReadinessStatus } from '../observability/readiness.ts';
import type { AuthFailure } from '../audit/auth-failures.ts';
import { checkBearer, remoteAddressOf } from './bearer-token.ts';

/** Lets the caller add HTTP routes (health details, admin) on the push server's port. */
export type ExtraRoutes = (app: TemplatedApp) => void;

export interface HttpRoutesOptions {
  dashboardHtml: string;
  logger: Logger;
  metrics?: Metrics;
  extraRoutes?: ExtraRoutes;
  /** Bearer token GET /metrics requires (TRIBUTARY_METRICS_TOKEN); unset: open. */
  metricsToken?: string;
  /** Told of each request refused for its token (the audit trail). */
  onAuthFailure?: (failure: AuthFailure) => void;
}

/** What GET /readyz reads: the engine's Readiness (runtime/readiness.ts). */
export interface ReadinessProbe {
  status(): ReadinessStatus;
}

/**
 * GET /readyz: 200 once the engine is ready (sinks open, source running with partitions
 * assigned, start-up done), else 503 with the reason; the body is the status as JSON either way.
 * The engine passes it to the push server as extra routes, since it owns the readiness state.
 * (GET /healthz, registered below for every server, only says the process answers.)
 */
export function readinessRoutes(readiness: ReadinessProbe): ExtraRoutes {
  return (app) => {
    app.get('/readyz', (res) => {
      const status = readiness.status();
      res
        .writeStatus(status.ready ? '200 OK' : '503 Service Unavailable')
        .writeHeader('Content-Type', 'application/json')
        .writeHeader('Cache-Control', 'no-store')
        .end(JSON.stringify(status));
    });
  };
}

/** The page only talks to its own origin; inline script and style are ours (no user content is inlined). */
const DASHBOARD_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** GET / (dashboard), GET /metrics (Prometheus), GET /healthz, and 404 for everything else except /ws. */
export function registerHttpRoutes(app: TemplatedApp, options: HttpRoutesOptions): void {
  const { dashboardHtml, logger, metrics, extraRoutes, metricsToken, onAuthFailure } = options;

  app.get('/', (res) => {
    res
      .writeStatus('200 OK')
      .writeHeader('Content-Type', 'text/html; charset=utf-8')
      .writeHeader('Cache-Control', 'no-cache')
      .writeHeader('X-Content-Type-Options', 'nosniff')
      .writeHeader('Content-Security-Policy', DASHBOARD_CSP)
      .end(dashboardHtml);
  });

  app.get('/healthz', (res) => {
    res.writeStatus('200 OK').writeHeader('Content-Type', 'text/plain; charset=utf-8').end('ok');
  });

  app.get('/metrics', (res, req) => {
    if (metrics === undefined) return endText(res, '404 Not Found', 'metrics are not enabled on this server');
    if (metricsToken !== undefined) {
      const verdict = checkBearer(req.getHeader('authorization'), metricsToken);
      if (verdict !== 'ok') {
        onAuthFailure?.({ remoteAddress: remoteAddressOf(res), reason: verdict === 'missing' ? 'token_missing' : 'bad_token', target: '/metrics' });
        res
          .writeStatus('401 Unauthorized')
          .writeHeader('WWW-Authenticate', 'Bearer realm="tributary-metrics"')
          .writeHeader('Content-Type', 'text/plain; charset=utf-8')
          .end('send Authorization: Bearer <TRIBUTARY_METRICS_TOKEN>');
        return;
      }
    }
    serveMetrics(res, metrics, logger);
  });

  extraRoutes?.(app);

  // Registered last; uWS prefers the more specific routes above (and the /ws upgrade route) anyway.
  app.any('/*', (res) => endText(res, '404 Not Found', 'not found'));
}

/**
 * The registry renders asynchronously, so the response outlives this handler: uWS requires an
 * onAborted handler before returning, and a cork around the late writes (one syscall, and required
 * by uWS outside the handler's own tick).
 */
function serveMetrics(res: HttpResponse, metrics: Metrics, logger: Logger): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  metrics.registry.metrics().then(
    (body) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus('200 OK').writeHeader('Content-Type', metrics.registry.contentType).end(body);
      });
    },
    (error: unknown) => {
      logger.warn({ err: describeError(error) }, 'rendering /metrics failed');
      if (aborted) return;
      res.cork(() => endText(res, '500 Internal Server Error', 'metrics unavailable'));
    },
  );
}

function endText(res: HttpResponse, status: string, body: string): void {
  res.writeStatus(status).writeHeader('Content-Type', 'text/plain; charset=utf-8').end(body);
}
