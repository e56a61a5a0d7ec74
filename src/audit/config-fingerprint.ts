import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { canonicalJson, sha256Hex } from './canonical-json.ts';

/** The environment variables that configure Tributary (README "Real services"). */
const CONFIG_PREFIXES = ['TRIBUTARY_', 'KAFKA_', 'CLICKHOUSE_', 'REDIS_'];
const CONFIG_NAMES = new Set(['PORT', 'HOST', 'LOG_LEVEL']);
/** Settings whose values are secrets: only the name is kept. */
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|KEY/i;
export const REDACTED = '[redacted]';

export interface ConfigFingerprint {
  /** SHA-256 of the redacted settings (canonical JSON of name → value). */
  sha256: string;
  /** Names of the settings that were set, sorted. */
  settings: string[];
}

/**
 * What the engine-start audit entry says about its configuration, without a secret in it: the
 * names of the settings set, and a hash of their values with every secret replaced by a marker
 * (a name matching SECRET, TOKEN, PASSWORD or KEY), credentials removed from URLs, and for a
 * `*_FILE` setting its path (the file's contents are never read). The same configuration gives
 * the same hash, so a changed setting shows; a rotated secret does not (on purpose: a hash of a
 * short password could be reversed by guessing).
 */
export function configFingerprint(env: NodeJS.ProcessEnv): ConfigFingerprint {
  const redacted: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '' || !isConfigName(name)) continue;
    redacted[name] = redactedValue(name, value);
  }
  return { sha256: sha256Hex(canonicalJson(redacted)), settings: Object.keys(redacted).sort() };
}

export function isConfigName(name: string): boolean {
  return CONFIG_NAMES.has(name) || CONFIG_PREFIXES.some((prefix) => name.startsWith(prefix));
}

export function redactedValue(name: string, value: string): string {
  if (name.endsWith('_FILE')) return withoutCredentials(value);
  if (SECRET_NAME.test(name)) return REDACTED;
  return withoutCredentials(value);
}

/** URLs (also in comma-separated lists) without user, password, or query parameters that look secret. */
export function withoutCredentials(value: string): string {
  return value
    .split(',')
    .map((part) => {
      const text = part.trim();
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return part;
      try {
        const url = new URL(text);
        url.username = '';
        url.password = '';
        for (const key of [...url.searchParams.keys()]) if (/secret|token|passw|key|auth|credential/i.test(key)) url.searchParams.set(key, REDACTED);
        return url.href;
      } catch {
        // Not parseable: drop anything that looks like user:password@ rather than keep it.
        return text.replace(/\/\/[^/@]*@/, '//');
      }
    })
    .join(',');
}

/** SHA-256 (hex) of a file's bytes. */
export function fileSha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}
