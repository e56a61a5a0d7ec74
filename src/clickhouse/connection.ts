import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';
import { ConfigError, ConnectionError, TributaryError, errorMessage } from '../core/errors.ts';
import { retry } from '../core/retry.ts';
import type { Logger } from '../observability/logger.ts';
import { clickHouseErrorCode, firstLine } from './errors.ts';
import { quoteIdentifier } from './sql.ts';
import { clickhouseConfigError, serverClientOptions, type ClickHouseSecurity } from './server-security.ts';

export { detectDialect, type ClickHouseDialect } from './dialect.ts';

export interface ConnectClickHouseOptions {
  /** http(s) URL of a ClickHouse server (CLICKHOUSE_URL); without it, embedded chDB is used. */
  url?: string;
  /** chDB data directory (default ./data/chdb); one per process, locked while open. */
  dataDir?: string;
  database?: string;
  /** User, password and TLS for the server (CLICKHOUSE_USER, CLICKHOUSE_PASSWORD[_FILE], CLICKHOUSE_CA_FILE). */
  security?: ClickHouseSecurity;
  logger: Logger;
  /** Connectivity check: default 8 attempts, waits doubling from 250 ms to 8 s (~20 s in all). */
  retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** Per-request timeout for the HTTP client (default 60 s; large inserts take a while). */
  requestTimeoutMs?: number;
}

const UNKNOWN_DATABASE = 81;

/**
 * A client for the server at `url`, or for embedded chDB when no URL is given. Checks that the
 * server answers `SELECT 1`, retrying with backoff; throws ConnectionError naming the URL when
 * it never does, and ConfigError (at once, without retrying) for a bad URL, an unknown database,
 * rejected credentials or a TLS failure.
 */
export async function connectClickHouse(options: ConnectClickHouseOptions): Promise<ClickHouseClient> {
  return options.url === undefined ? connectEmbedded(options) : connectServer(options.url, options);
}

async function connectServer(url: string, options: ConnectClickHouseOptions): Promise<ClickHouseClient> {
  const shownUrl = redactedUrl(url);
  const client = createClient({
    ...serverClientOptions(url, options.security),
    database: options.database,
    request_timeout: options.requestTimeoutMs ?? 60_000,
    // Failures surface as thrown errors that the sinks log with context; the client's own
    // console logging would print each one a second time.
    log: { level: ClickHouseLogLevel.OFF },
  });
  const maxAttempts = options.retry?.maxAttempts ?? 8;
  try {
    await retry(() => selectOne(client, options.database ?? databaseOf(url), (error) => clickhouseConfigError(error, url, options.security)), {
      what: `connect to ClickHouse at ${shownUrl}`,
      maxAttempts,
      initialDelayMs: options.retry?.initialDelayMs ?? 250,
      maxDelayMs: options.retry?.maxDelayMs ?? 8_000,
      onRetry: ({ attempt, delayMs, error }) =>
        options.logger.warn(
          { url: shownUrl, attempt, delayMs, err: errorMessage(error) },
          `ClickHouse at ${shownUrl} unreachable (${failureReason(error)}), retrying in ${delayMs} ms (attempt ${attempt + 1}/${maxAttempts})`,
        ),
    });
  } catch (error) {
    await client.close().catch(() => {});
    if (error instanceof ConfigError) throw error;
    const cause = error instanceof TributaryError && error.cause !== undefined ? error.cause : error;
    throw new ConnectionError(
      'ClickHouse',
      `${shownUrl} unreachable after ${maxAttempts} attempts (${failureReason(cause)}). Start the server (npm run services:start) or point CLICKHOUSE_URL at a running one`,
      cause,
      { retriesExhausted: true },
    );
  }
  options.logger.info({ url: shownUrl }, `connected to ClickHouse at ${shownUrl}`);
  return client;
}

async function connectEmbedded(options: ConnectClickHouseOptions): Promise<ClickHouseClient> {
  const path = resolve(options.dataDir ?? './data/chdb');
  let client: ClickHouseClient | undefined;
  try {
    await mkdir(path, { recursive: true });
    // Loaded here, not at the top: chDB is about 150 MB of native code that a topology writing
    // to a ClickHouse server (or to no ClickHouse at all) never needs.
    const { createChdbConnection } = await import('chdb/connection');
    // chDB implements the client's Connection contract against its own bundled copy of
    // @clickhouse/client-common, so the two declarations differ only nominally.
    const connection = createChdbConnection({ path }) as unknown as ClickHouseClientConfigOptions['connection'];
    client = createClient({ connection });
    await client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then((result) => result.json());
    if (options.database !== undefined && options.database !== 'default') {
      // chDB ignores the client's `database` option; its session keeps the USE instead.
      await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(options.database)}` });
      await client.command({ query: `USE ${quoteIdentifier(options.database)}` });
    }
  } catch (error) {
    await client?.close().catch(() => {});
    throw new ConnectionError(
      'chDB',
      `cannot open the embedded database in ${path}: ${firstLine(errorMessage(error))}. Only one process (and one data directory per process) can use it at a time: stop the other process or choose another data directory`,
      error,
    );
  }
  options.logger.info({ dataDir: path }, `using embedded chDB in ${path}`);
  return client;
}

/** One round trip that proves the server answers queries (HTTP /ping does not check the database). */
async function selectOne(client: ClickHouseClient, database: string, refusal: (error: unknown) => ConfigError | undefined): Promise<void> {
  try {
    const result = await client.query({ query: 'SELECT 1', format: 'JSONEachRow', abort_signal: AbortSignal.timeout(5_000) });
    await result.json();
  } catch (error) {
    const code = clickHouseErrorCode(error);
    if (code === UNKNOWN_DATABASE) {
      throw new ConfigError('CLICKHOUSE_URL', `database "${database}" (the path of the URL) does not exist on the server`, `create it (CREATE DATABASE ${quoteIdentifier(database)}) or change the path of CLICKHOUSE_URL (no path: the user's default database)`);
    }
    // Refused credentials and TLS failures: a retry cannot fix them.
    throw refusal(error) ?? error;
  }
}

/** The database a URL names in its path (http://host:8123/analytics), else "default". */
function databaseOf(url: string): string {
  const path = decodeURIComponent(new URL(url).pathname.replace(/^\/+|\/+$/g, ''));
  return path === '' ? 'default' : path;
}

/** Validates the URL and hides its password, for error messages and logs. */
function redactedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('CLICKHOUSE_URL', `"${url}" is not a URL`, 'use e.g. http://127.0.0.1:8123, or leave CLICKHOUSE_URL unset to use embedded chDB');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError('CLICKHOUSE_URL', `"${url}" uses ${parsed.protocol} but ClickHouse is reached over HTTP`, 'use http://host:8123 (or https://host:8443)');
  }
  if (parsed.password) parsed.password = '***';
  return parsed.href.replace(/\/$/, '');
}

/** A short reason for log lines: the system error code when there is one. */
function failureReason(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'no answer within 5 s';
    return firstLine(error.message);
  }
  return String(error);
}
