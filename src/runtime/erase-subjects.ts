import type { AuditTrail } from '../audit/audit-trail.ts';
import { eraseSubjects, type ErasureReport } from '../governance/erase.ts';
import { Keyring } from '../governance/keyring.ts';
import type { Logger } from '../observability/logger.ts';
import { RedisKeyValueStore } from '../state/redis-store.ts';
import type { EngineConfig } from '../topology/config.ts';
import { redisTarget } from '../topology/connection-config.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import { stateStorePrefix } from './environment.ts';
import { openKeyStore } from './key-store-config.ts';
import { SinkGovernor } from './sink-governor.ts';

export interface EraseOptions {
  config: EngineConfig;
  logger: Logger;
  audit: AuditTrail;
  principal: string;
}

/** What `tributary erase` touched: per subject, and where (key store, state store). */
export interface EraseSummary {
  reports: ErasureReport[];
  keyStore: string;
  /** The Redis prefix of the topology's online state, or undefined without REDIS_URL (in-memory state ends with its process). */
  stateStore: string | undefined;
}

/**
 * Erases subjects of a topology (README "Data protection"): each subject's data key in the key
 * store the settings name, and its online state under the topology's state prefixes in Redis.
 * One audit entry per subject. Reads no table: what ClickHouse holds of the subject are tokens
 * under the destroyed key.
 */
export async function eraseTopologySubjects(topology: AnyTopology, ids: readonly string[], options: EraseOptions): Promise<EraseSummary> {
  const { config, logger } = options;
  const keyring = await Keyring.open(await openKeyStore(config, logger), { masterKey: config.governance?.masterKey });
  const governor = new SinkGovernor(topology, config.schemasDir, async () => keyring);
  const redis = redisTarget(config);
  const prefix = stateStorePrefix(topology.name);
  const state = redis === undefined ? undefined : await RedisKeyValueStore.connect(redis, { prefix, logger });
  try {
    const reports = await eraseSubjects(ids, {
      keyring,
      stateKeysOf: (id, subject) => governor.stateKeysOf(id, subject),
      deleteState: async (keys) => (state ? state.delete(keys) : keys.map(() => false)),
      audit: options.audit,
      principal: options.principal,
      topology: topology.name,
    });
    return { reports, keyStore: keyring.store.description, stateStore: state ? `Redis ${prefix}*` : undefined };
  } finally {
    await state?.close();
    await keyring.close();
  }
}
