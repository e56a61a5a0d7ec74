import type { TopologyGovernance } from './governance-spec.ts';
import type { DestinationPolicies } from './policies.ts';

/**
 * A governance that keeps every tagged field in clear at every destination: an explicit,
 * reviewable decision, for synthetic data in tests and demos only. Sinks are then created
 * exactly as without governance.
 */
export function inClear(): TopologyGovernance {
  const keep: DestinationPolicies = { clickhouse: 'keep', state: 'keep', websocket: 'keep', websocketAdmin: 'keep', late: 'keep', quarantine: 'keep', deadLetters: 'keep', kafka: 'keep', other: 'keep' };
  return { policies: { direct: keep, quasi: keep, sensitive: keep } };
}
