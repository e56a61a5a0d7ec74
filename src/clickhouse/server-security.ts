import { rootCertificates } from 'node:tls';
import type { ClickHouseClientConfigOptions } from '@clickhouse/client';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { tlsConfigError, type TlsSettings } from '../core/tls-settings.ts';
import { clickHouseErrorCode, firstLine } from './errors.ts';

/** Credentials and TLS for a ClickHouse server (CLICKHOUSE_USER, CLICKHOUSE_PASSWORD[_FILE], CLICKHOUSE_*_FILE). */
export interface ClickHouseSecurity {
  username?: string;
  password?: string;
  /** https:// URLs only; without `ca` the server is checked against Node's public CAs. */
  tls?: TlsSettings;
}

/** The settings each credential or TLS failure points at; the SQL endpoint's analyst user has its own. */
export interface ClickHouseVariables {
  user: string;
  password: string;
}

export const ENGINE_USER_VARIABLES: ClickHouseVariables = { user: 'CLICKHOUSE_USER', password: 'CLICKHOUSE_PASSWORD' };

const TLS_VARIABLES = { service: 'ClickHouse', host: 'CLICKHOUSE_URL', ca: 'CLICKHOUSE_CA_FILE', cert: 'CLICKHOUSE_CERT_FILE', protocol: 'CLICKHOUSE_URL' };

/**
 * The client options for a server at `url`: the one place credentials and TLS reach
 * @clickhouse/client (the engine's connection, and each query of the SQL endpoint).
 */
export function serverClientOptions(url: string, security: ClickHouseSecurity | undefined): ClickHouseClientConfigOptions {
  const options: ClickHouseClientConfigOptions = { url };
  if (security?.username !== undefined) options.username = security.username;
  if (security?.password !== undefined) options.password = security.password;
  const tls = security?.tls;
  if (url.startsWith('https:') && tls !== undefined && (tls.ca !== undefined || tls.cert !== undefined)) {
    // The client takes a CA whenever it takes TLS options: without one, Node's public CAs.
    const ca = Buffer.from(tls.ca ?? rootCertificates.join('\n'));
    options.tls = tls.cert !== undefined && tls.key !== undefined ? { ca_cert: ca, cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) } : { ca_cert: ca };
  }
  return options;
}

const UNKNOWN_USER = 192;
const WRONG_PASSWORD = new Set([193, 194, 516]); // WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED

/** Refused credentials or a TLS failure as a ConfigError naming the setting (retrying cannot fix them); else undefined. */
export function clickhouseConfigError(error: unknown, url: string, security: ClickHouseSecurity | undefined, variables = ENGINE_USER_VARIABLES): ConfigError | undefined {
  const code = clickHouseErrorCode(error);
  const inUrl = /\/\/[^@/]+@/.test(url);
  const where = inUrl ? 'the user and password in CLICKHOUSE_URL' : `${variables.user} and ${variables.password} (or ${variables.password}_FILE)`;
  const user = security?.username ?? (inUrl ? decodeURIComponent(new URL(url).username) : 'default');
  if (code === UNKNOWN_USER) {
    return new ConfigError(inUrl ? 'CLICKHOUSE_URL' : variables.user, `ClickHouse has no user "${user}" (Code ${code})`, `check ${where}; the user must exist on the server (users.xml or CREATE USER)`);
  }
  if (code !== undefined && WRONG_PASSWORD.has(code)) {
    return new ConfigError(inUrl ? 'CLICKHOUSE_URL' : variables.password, `ClickHouse rejected the password of user "${user}" (${firstLine(errorMessage(error)).replace(/^Code: \d+, e\.displayText\(\) = DB::Exception: /, '')})`, `check ${where}`);
  }
  return url.startsWith('https:') ? tlsConfigError(error, TLS_VARIABLES) : undefined;
}
