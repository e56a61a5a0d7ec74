import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AnyTopology } from '../topology/define-topology.ts';

/** What the engine gives the lookup tables of a topology when it starts them. */
export interface TableEnvironment {
  topology: string;
  logger: Logger;
  metrics: Metrics;
  schemasDir: string;
  kafkaBrokers?: string[];
  groupId: string;
}

export interface RunningTables {
  close(): Promise<void>;
}

/**
 * Starts the lookup tables the topology declares, each caught up with its source before the
 * main source starts. (Placeholder: filled in with the enrichment join.)
 */
export async function startTables(_topology: AnyTopology, _environment: TableEnvironment): Promise<RunningTables> {
  return { close: async () => {} };
}
