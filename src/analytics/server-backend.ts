import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { errorMessage } from '../core/errors.ts';
import { firstLine } from '../clickhouse/errors.ts';
import { serverClientOptions } from '../clickhouse/server-security.ts';
import type { TlsSettings } from '../core/tls-settings.ts';
import type { AnalystBackend } from './analyst-backend.ts';
import { checkAnalystProfile } from './analyst-profile.ts';
import { plainName } from './chdb-backend.ts';
import { lendParser } from './parser-session.ts';
import { answerDeadlineMs, type ResultFormat } from './result-format.ts';
import type { AnalystUser, QueryLimits } from './sql-config.ts';
import { queryFailure, SqlQueryError } from './sql-errors.ts';

/** The database a ClickHouse URL names in its path (http://host:8123/db), else "default". */
export function databaseOfUrl(url: string): string {
  const path = new URL(url).pathname.replace(/^\/+|\/+$/g, '');
  return path === '' ? 'default' : decodeURIComponent(path);
}

/**
 * A ClickHouse server: analyst queries run as the dedicated analyst user (never the engine's
 * own), whose profile holds readonly=1 and the limits (checked: analyst-profile.ts), in the
 * database of the engine's URL. Parsing happens in this process (parser-session.ts).
 */
export async function openServerBackend(url: string, analyst: AnalystUser | undefined, limits: QueryLimits, tls?: TlsSettings): Promise<AnalystBackend> {
  if (analyst === undefined) {
    throw new SqlQueryError(
      'UNAVAILABLE',
      'analyst SQL against a ClickHouse server needs a dedicated read-only user: set CLICKHOUSE_ANALYST_USER and CLICKHOUSE_ANALYST_PASSWORD_FILE (or CLICKHOUSE_ANALYST_PASSWORD); README "For analysts" shows how to create it',
    );
  }
  let database: string;
  let client: ClickHouseClient;
  try {
    const parsed = new URL(url);
    database = plainName(databaseOfUrl(url));
    parsed.username = '';
    parsed.password = '';
    parsed.pathname = '/';
    client = createClient({
      // The server's TLS as the engine has it; the user is always the analyst, never the engine's.
      ...serverClientOptions(parsed.href, { tls }),
      username: analyst.user,
      password: analyst.password,
      database,
      request_timeout: answerDeadlineMs(limits),
      log: { level: ClickHouseLogLevel.OFF },
    });
  } catch (error) {
    if (error instanceof SqlQueryError) throw error;
    throw new SqlQueryError('UNAVAILABLE', `CLICKHOUSE_URL is not usable: ${firstLine(errorMessage(error))}`, { cause: error });
  }
  let lent: Awaited<ReturnType<typeof lendParser>> | undefined;
  try {
    await checkAnalystProfile(client, `${url}|${analyst.user}`, analyst.user);
    lent = await lendParser();
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
  const parser = lent;
  return {
    database,
    parser: parser.parser,
    async databaseTables() {
      // One row: the profile's max_result_rows may be smaller than the number of tables.
      const query = 'SELECT groupArray(name) AS names FROM system.tables WHERE database = currentDatabase()';
      const [row] = await (await client.query({ query, format: 'JSONEachRow' })).json<{ names: string[] }>();
      return new Set(row?.names ?? []);
    },
    async run(canonical: string, format: ResultFormat, signal?: AbortSignal) {
      try {
        // No settings: a readonly=1 user may not send any, its profile holds them.
        // wait_end_of_query (an HTTP parameter) makes a limit found late an error status.
        const result = await client.query({ query: canonical, format, clickhouse_settings: { wait_end_of_query: 1 }, abort_signal: signal });
        return await result.text();
      } catch (error) {
        if (signal?.aborted) throw new SqlQueryError('TIME_LIMIT', `no answer within ${answerDeadlineMs(limits)} ms`, { cause: error });
        throw queryFailure(error);
      }
    },
    async close() {
      await parser.release();
      await client.close().catch(() => {});
    },
  };
}
