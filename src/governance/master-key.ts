import { ConfigError } from '../core/errors.ts';
import { KEY_BYTES, open, seal } from './crypto.ts';

/**
 * The master key (TRIBUTARY_GOVERNANCE_MASTER_KEY or ..._FILE): 32 bytes as 64 hex digits or
 * base64. With it, every key in the key store is stored wrapped (AES-256-GCM, the key's id as
 * associated data, so a wrapped key cannot be moved to another id): reading the key store alone
 * reveals no key. Without it, keys are stored as they are and the key store's access control is
 * the only protection.
 */
export function parseMasterKey(text: string, variable = 'TRIBUTARY_GOVERNANCE_MASTER_KEY'): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : undefined;
  if (key === undefined || key.length !== KEY_BYTES) {
    throw new ConfigError(variable, 'the value is not 32 bytes as 64 hex digits or base64', `generate one with: openssl rand -hex 32 > master.key, then set ${variable}_FILE=master.key`);
  }
  return key;
}

/** How a key is stored: `raw.<base64>` without a master key, `wrap1.<base64url(sealed)>` with one. */
export function storedForm(id: string, key: Buffer, master: Buffer | undefined): string {
  return master === undefined ? `raw.${key.toString('base64')}` : `wrap1.${seal(master, key, `key.${id}`).toString('base64url')}`;
}

/** The key from its stored form; a form that does not match the master key setting fails naming it. */
export function keyFromStored(id: string, stored: string, master: Buffer | undefined): Buffer {
  if (stored.startsWith('raw.')) {
    if (master !== undefined) throw wrongSetting(id, 'is stored unwrapped, but a master key is set', 'the store was written without TRIBUTARY_GOVERNANCE_MASTER_KEY: unset it, or start over with a new key store');
    return Buffer.from(stored.slice(4), 'base64');
  }
  if (stored.startsWith('wrap1.')) {
    if (master === undefined) throw wrongSetting(id, 'is wrapped by a master key, and none is set', 'set TRIBUTARY_GOVERNANCE_MASTER_KEY_FILE to the master key the store was written with');
    return open(master, Buffer.from(stored.slice(6), 'base64url'), `key.${id}`);
  }
  throw wrongSetting(id, 'is in no known form', 'the key store holds something else under this id: check the store prefix or directory');
}

function wrongSetting(id: string, problem: string, fix: string): ConfigError {
  return new ConfigError('TRIBUTARY_GOVERNANCE_MASTER_KEY', `key ${id} in the key store ${problem}`, fix);
}
