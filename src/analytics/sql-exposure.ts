import { ConfigError } from '../core/errors.ts';
import { isLoopbackAddress } from './sql-access.ts';
import { hasCredentials, type SqlEndpointConfig } from './sql-config.ts';

/**
 * Refuses to serve POST /sql beyond this machine without a credential: when HOST is not a
 * loopback address and the endpoint is on, a token (or JWT secret) must be set. Throws
 * ConfigError naming TRIBUTARY_SQL_TOKEN and the three ways out.
 */
export function checkSqlExposure(host: string, config: Pick<SqlEndpointConfig, 'enabled' | 'credentials'>): void {
  if (!config.enabled || hasCredentials(config.credentials) || isLoopbackBind(host)) return;
  throw new ConfigError(
    'TRIBUTARY_SQL_TOKEN',
    `HOST=${host || '(all interfaces)'} serves the SQL endpoint beyond this machine, and no SQL token is set`,
    'set TRIBUTARY_SQL_TOKEN=$(openssl rand -hex 24) (or TRIBUTARY_SQL_ADMIN_TOKEN, or TRIBUTARY_SQL_JWT_SECRET), bind HOST=127.0.0.1, or turn the endpoint off with TRIBUTARY_SQL=off',
  );
}

/** localhost, 127.0.0.0/8 and ::1 (bracketed or not). */
export function isLoopbackBind(host: string): boolean {
  const name = host.trim().toLowerCase();
  if (name === 'localhost') return true;
  return isLoopbackAddress(name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name);
}
