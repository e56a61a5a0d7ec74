import { noAudit } from '../../src/audit/audit-trail.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { Readiness } from '../../src/observability/readiness.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { startHttpEndpoint } from '../../src/runtime/http-endpoint.ts';
import type { RunningPushServer } from '../../src/push/uws-push-server.ts';
import { loadConfig } from '../../src/topology/config.ts';

/** The engine's HTTP endpoint (dashboard, /ws, /sql) of topology 'card-fraud' alone, configured from `env`; no state store. */
export function startTestEndpoint(env: Record<string, string>, analystTables: string[] = []): Promise<RunningPushServer> {
  return startHttpEndpoint({
    config: loadConfig(env),
    logger: silentLogger,
    metrics: new Metrics(),
    topology: 'card-fraud',
    readiness: new Readiness(),
    audit: noAudit,
    state: async () => {
      throw new Error('not used');
    },
    analystTables,
  });
}
