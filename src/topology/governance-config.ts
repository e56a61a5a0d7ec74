import path from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { readSecret } from '../core/secret-setting.ts';
import { parseMasterKey } from '../governance/master-key.ts';

/** Where data protection keeps its keys, and the master key that wraps them. */
export interface GovernanceConfig {
  /**
   * 'redis': under `prefix` on REDIS_URL (with its credentials and TLS); 'file': one file per
   * key in `directory` (tests, a single host).
   */
  keyStore: { kind: 'redis'; prefix: string } | { kind: 'file'; directory: string };
  /** TRIBUTARY_GOVERNANCE_MASTER_KEY[_FILE]: wraps every stored key (32 bytes). */
  masterKey?: Buffer;
}

type Env = Record<string, string | undefined>;

export const DEFAULT_KEY_PREFIX = 'tributary:keys:';
const DEFAULT_KEY_DIR = 'data/keys';

/**
 * TRIBUTARY_KEY_STORE ('redis' or 'file'; default redis when REDIS_URL is set, else file),
 * TRIBUTARY_KEY_STORE_DIR (default data/keys), TRIBUTARY_KEY_STORE_PREFIX (default
 * tributary:keys:), TRIBUTARY_GOVERNANCE_MASTER_KEY or _FILE.
 */
export function loadGovernanceConfig(env: Env, redisUrl: string | undefined): GovernanceConfig {
  const kind = env.TRIBUTARY_KEY_STORE ?? (redisUrl ? 'redis' : 'file');
  if (kind !== 'redis' && kind !== 'file') throw new ConfigError('TRIBUTARY_KEY_STORE', `"${kind}" is not a key store`, "use 'redis' (keys under TRIBUTARY_KEY_STORE_PREFIX on REDIS_URL) or 'file' (TRIBUTARY_KEY_STORE_DIR)");
  if (kind === 'redis' && !redisUrl) throw new ConfigError('TRIBUTARY_KEY_STORE', "'redis' needs a Redis server, but REDIS_URL is not set", "set REDIS_URL, or TRIBUTARY_KEY_STORE=file with TRIBUTARY_KEY_STORE_DIR");
  const prefix = env.TRIBUTARY_KEY_STORE_PREFIX ?? DEFAULT_KEY_PREFIX;
  if (!/^[A-Za-z0-9:_.-]{1,100}$/.test(prefix)) throw new ConfigError('TRIBUTARY_KEY_STORE_PREFIX', `"${prefix}" is not a key prefix`, 'use letters, digits and : _ . -, e.g. tributary:keys:');
  const secret = readSecret(env, 'TRIBUTARY_GOVERNANCE_MASTER_KEY');
  return {
    keyStore: kind === 'redis' ? { kind, prefix } : { kind, directory: path.resolve(env.TRIBUTARY_KEY_STORE_DIR ?? DEFAULT_KEY_DIR) },
    ...(secret === undefined ? {} : { masterKey: parseMasterKey(secret) }),
  };
}

/** The settings of an EngineConfig built in code without them: as loadGovernanceConfig with nothing set. */
export function defaultGovernanceConfig(redisUrl: string | undefined): GovernanceConfig {
  return loadGovernanceConfig({}, redisUrl);
}
