import type { EngineConfig } from '../topology/config.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SourceSpec } from '../sources/source.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';

/** Who runs the engine and where its audit entries go. */
export interface EngineAuditOptions {
  /** A trail the caller owns (and closes); default: the engine opens config.audit itself. */
  trail?: AuditTrail;
  /** Recorded with engine.start and engine.stop; default `process:<os user>` (`tributary run`: `cli:<os user>`). */
  principal?: string;
  /** The topology's file, hashed into the engine.start entry. */
  topologyFile?: string;
}

/** How to start an Engine. All optional: without `config` the defaults apply (no environment is read). */
export interface EngineOptions {
  config?: EngineConfig;
  logger?: Logger;
  metrics?: Metrics;
  /** Serve the dashboard, WebSocket, /metrics and /sql on config.host:config.port. Default false: no port is opened unless asked. */
  push?: boolean;
  /** Replaces the topology's source (tests, backfill). */
  source?: SourceSpec<unknown>;
  /**
   * What produced the rows, stored by ClickHouse tables with `origin: true`: 'online'
   * (default), or 'backfill' when `tributary backfill` replays stored events.
   */
  origin?: string;
  audit?: EngineAuditOptions;
}
