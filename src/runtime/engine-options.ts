import type { EngineConfig } from '../topology/config.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SourceSpec } from '../sources/source.ts';

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
}
