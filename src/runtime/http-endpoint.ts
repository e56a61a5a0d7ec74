import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { readinessRoutes } from '../push/http-routes.ts';
import { registerSqlRoute } from '../push/sql-route.ts';
import { openDpSettings } from './dp-config.ts';
import { registerStateRoute } from '../push/state-route.ts';
import type { KeyValueStore } from '../state/key-value-store.ts';
import { startPushServer, type RunningPushServer } from '../push/uws-push-server.ts';
import type { EngineConfig } from '../topology/config.ts';
import { clickhouseTarget } from '../topology/connection-config.ts';
import type { EngineStats } from './engine-stats.ts';
import type { Readiness } from '../observability/readiness.ts';
import { StatsPublisher, type SinkStatus } from './stats-publisher.ts';
import { STATS_CHANNEL, STATS_REPLAY_ITEMS, type ModelQualityStats } from './stats-snapshot.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import { loadSqlEndpointConfig } from '../analytics/sql-config.ts';
import { checkSqlExposure } from '../analytics/sql-exposure.ts';
import type { SubjectKeys } from '../governance/detokenize-result.ts';

export interface HttpEndpointOptions {
  config: EngineConfig;
  logger: Logger;
  metrics: Metrics;
  topology: string;
  readiness: Readiness;
  /** The engine's hot state, for GET /state. */
  state: () => Promise<KeyValueStore>;
  /** The engine's audit trail: SQL queries, refused WebSocket upgrades and /metrics requests. */
  audit: AuditTrail;
  /** What analysts may read through POST /sql (analyst-tables.ts). */
  analystTables: readonly string[];
  /** The store key of a requested key (data protection pseudonymizes subject ids in keys). */
  stateKey?: (key: string) => Promise<string>;
  /** The engine's keyring, only when data protection is on: admins' POST /sql?detokenize=1. */
  keyring?: () => Promise<SubjectKeys>;
}

/**
 * The engine's one HTTP port: the dashboard, WebSocket channels (/ws), /metrics, /healthz,
 * /readyz, the analysts' read-only POST /sql (unless TRIBUTARY_SQL=off) and GET /state (latest features per key, with
 * their age). Resolves once listening.
 */
export async function startHttpEndpoint(options: HttpEndpointOptions): Promise<RunningPushServer> {
  const { config, logger, metrics, topology, readiness, state, audit, stateKey } = options;
  const sql = loadSqlEndpointConfig();
  // Before listening: a SQL endpoint reachable beyond this machine needs a credential.
  checkSqlExposure(config.host, sql);
  const dp = sql.enabled ? await openDpSettings(config, logger) : undefined;
  const extraRoutes = (app: TemplatedApp) => {
    readinessRoutes(readiness)(app);
    if (sql.enabled) {
      const clickhouse = { ...clickhouseTarget(config), ...(sql.analystUser === undefined ? {} : { analyst: sql.analystUser }) };
      registerSqlRoute(app, { clickhouse, analystTables: options.analystTables, logger, audit, ...(dp === undefined ? {} : { dp }), ...(options.keyring === undefined ? {} : { keyring: options.keyring }) });
    }
    registerStateRoute(app, { store: state, logger, ...(stateKey ? { storeKey: stateKey } : {}) });
  };
  // Each stats item is the engine's whole state: a minute of them covers a reconnect; the default
  // replay bounds (10,000 items, 8 MiB of frames) took over half an hour to fill at one a second,
  // most of a soak's heap growth.
  const replayByChannel = { [STATS_CHANNEL]: { items: STATS_REPLAY_ITEMS } };
  const server = await startPushServer({ port: config.port, host: config.host, logger, metrics, topology, ...config.websocket, replayByChannel, metricsToken: config.metricsToken, audit, extraRoutes });
  logger.info({ url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${server.port}/` }, 'dashboard and WebSocket endpoint (/ws) listening');
  if (dp !== undefined) {
    // The ledger's Redis connection (if any) closes with the endpoint.
    const close = server.close.bind(server);
    server.close = () => close().then(() => dp.ledger.close());
  }
  return server;
}

/** Publishes the dashboard's stats on `server` once a second (see stats-publisher.ts); stop it with `stop()`. */
export function startDashboardStats(options: { server: RunningPushServer; topology: string; source: string; metrics: Metrics; engine: () => EngineStats; sinks: () => SinkStatus[]; quality?: () => ModelQualityStats[] }): StatsPublisher {
  const { server, ...rest } = options;
  const publisher = new StatsPublisher({ ...rest, publish: (channel, items, keys) => server.publish(channel, items, keys) });
  publisher.start();
  return publisher;
}
