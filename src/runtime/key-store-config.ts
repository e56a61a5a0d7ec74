import { ConfigError } from '../core/errors.ts';
import { FileKeyStore } from '../governance/file-key-store.ts';
import type { KeyStore } from '../governance/key-store.ts';
import { RedisKeyStore } from '../governance/redis-key-store.ts';
import type { Logger } from '../observability/logger.ts';
import type { EngineConfig } from '../topology/config.ts';
import { redisTarget } from '../topology/connection-config.ts';
import { defaultGovernanceConfig } from '../topology/governance-config.ts';

/** The key store the settings name: Redis (REDIS_URL, its credentials and TLS) or a directory. */
export async function openKeyStore(config: EngineConfig, logger: Logger): Promise<KeyStore> {
  const settings = (config.governance ?? defaultGovernanceConfig(config.redisUrl)).keyStore;
  if (settings.kind === 'file') return new FileKeyStore(settings.directory);
  const redis = redisTarget(config);
  if (redis === undefined) throw new ConfigError('TRIBUTARY_KEY_STORE', "the key store is 'redis', but no Redis server is configured", 'set REDIS_URL, or use a file key store (TRIBUTARY_KEY_STORE=file)');
  return RedisKeyStore.connect(redis, { prefix: settings.prefix, logger });
}
