import type { ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import { createLogger } from '../observability/logger.ts';
import { ConfigError } from '../core/errors.ts';
import { loadTopology } from '../topology/load-topology.ts';
import { clickhouseModelRegistry } from '../registry/clickhouse-model-registry.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { connectClickHouse } from '../clickhouse/connection.ts';
import { loadConfig, type EngineConfig } from '../topology/config.ts';
import { clickhouseTarget } from '../topology/connection-config.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';

/** What a lifecycle command works on: the topology's spec, its ClickHouse and its registry. */
export interface LifecycleContext {
  topology: AnyTopology;
  spec: LifecycleSpec;
  client: ClickHouseClient;
  registry: ModelRegistry;
}

/** The topology's `lifecycle`, or a ConfigError saying how to declare one. */
export function lifecycleOf(topology: AnyTopology, file = 'the topology'): LifecycleSpec {
  const spec = topology.lifecycle;
  if (!spec || typeof spec !== 'object' || typeof spec.model !== 'string' || !spec.featureSet) {
    throw new ConfigError(`${file} lifecycle`, `topology "${topology.name}" declares no model lifecycle`, 'add `lifecycle: { featureSet, model, featuresTable, labels, predictionsTable, ... }` to its defineTopology (see src/topology/lifecycle-spec.ts)');
  }
  return spec;
}

/**
 * Loads the topology, connects to its ClickHouse (CLICKHOUSE_URL, else the chDB directory;
 * embedded chDB is locked by a running engine, and the error then says so), opens the registry
 * and runs `work`; everything is closed afterwards. Logs go to stderr at 'warn' (LOG_LEVEL), so
 * stdout carries only the command's output.
 */
export async function withLifecycle<T>(topologyFile: string, work: (context: LifecycleContext) => Promise<T>, config: EngineConfig = loadConfig()): Promise<T> {
  const topology = await loadTopology(topologyFile);
  const spec = lifecycleOf(topology, topologyFile);
  const logger = createLogger('tributary', process.env.LOG_LEVEL ?? 'warn', pino.destination({ dest: 2, sync: true }));
  const client = await connectClickHouse({ ...clickhouseTarget(config), logger });
  const registry = clickhouseModelRegistry(client, { table: spec.registryTable });
  try {
    await registry.open();
    return await work({ topology, spec, client, registry });
  } finally {
    await registry.close().catch(() => {});
    await client.close().catch(() => {});
  }
}
