import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseClientConfigOptions, type ClickHouseSettings } from '@clickhouse/client';
import { errorMessage } from '../core/errors.ts';
import { firstLine } from '../clickhouse/errors.ts';
import { serverClientOptions, type ClickHouseSecurity } from '../clickhouse/server-security.ts';
import type { QueryLimits } from './sql-config.ts';
import { queryFailure, SqlQueryError } from './sql-errors.ts';

/** Formats an analyst can ask for (ClickHouse's names). */
export const RESULT_FORMATS = ['JSON', 'JSONEachRow', 'CSV', 'CSVWithNames', 'TabSeparated', 'TabSeparatedWithNames'] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

export const CONTENT_TYPES: Record<ResultFormat, string> = {
  JSON: 'application/json; charset=utf-8',
  JSONEachRow: 'application/x-ndjson; charset=utf-8',
  CSV: 'text/csv; charset=utf-8',
  CSVWithNames: 'text/csv; charset=utf-8',
  TabSeparated: 'text/tab-separated-values; charset=utf-8',
  TabSeparatedWithNames: 'text/tab-separated-values; charset=utf-8',
};

/** Where the tables are: a ClickHouse server (url wins) or a chDB data directory. */
export interface ReadOnlyTarget {
  url?: string;
  /** The server's user, password and TLS (default: the engine's, CLICKHOUSE_USER and friends). */
  security?: ClickHouseSecurity;
  dataDir?: string;
}

export function parseFormat(text: string | undefined): ResultFormat {
  if (text === undefined || text === '') return 'JSON';
  const format = RESULT_FORMATS.find((f) => f.toLowerCase() === text.toLowerCase());
  if (format === undefined) throw new SqlQueryError('BAD_REQUEST', `unknown format "${text}": use one of ${RESULT_FORMATS.join(', ')}`);
  return format;
}

/** Whole seconds: max_execution_time is in seconds (18.16 takes no fractions). */
export function executionSeconds(limits: QueryLimits): number {
  return Math.max(1, Math.ceil(limits.timeoutMs / 1000));
}

/** How long a caller waits for an answer at most: the server's own limit plus a second. */
export function answerDeadlineMs(limits: QueryLimits): number {
  return executionSeconds(limits) * 1000 + 1000;
}

/** The limits as ClickHouse settings; `readonly` last, so the others are set before it locks them. */
export function readOnlySettings(limits: QueryLimits): ClickHouseSettings {
  return {
    max_result_rows: String(limits.maxRows),
    max_result_bytes: String(limits.maxResultBytes),
    result_overflow_mode: 'throw',
    max_execution_time: executionSeconds(limits),
    timeout_overflow_mode: 'throw',
    readonly: '1',
  };
}

/**
 * Runs one statement (already checked by readOnlyStatement) read-only and within the limits;
 * resolves with the result in `format`. Each call opens its own connection and closes it:
 *
 * - a server gets the limits and readonly=1 as settings of this request only;
 * - chDB gets a session of its own on the directory (sessions in one process share the data),
 *   locked with SET ..., readonly=1 before the query. The engine's session is never touched:
 *   chDB turns per-query settings into session-wide SETs, which would reach the sinks' inserts.
 *
 * Fails with SqlQueryError (limits, read-only refusals, ClickHouse's own errors, an unreachable
 * server or a directory another process holds).
 */
export async function runReadOnlyQuery(target: ReadOnlyTarget, sql: string, format: ResultFormat, limits: QueryLimits, signal?: AbortSignal): Promise<string> {
  const { client, settings } = target.url !== undefined ? serverClient(target.url, target.security, limits) : await chdbClient(target.dataDir, limits);
  try {
    const result = await client.query({ query: sql, format, clickhouse_settings: settings, abort_signal: signal });
    return await result.text();
  } catch (error) {
    if (signal?.aborted) throw new SqlQueryError('TIME_LIMIT', `no answer within ${answerDeadlineMs(limits)} ms`, { cause: error });
    throw queryFailure(error, limits);
  } finally {
    await client.close().catch(() => {});
  }
}

function serverClient(url: string, security: ClickHouseSecurity | undefined, limits: QueryLimits): { client: ClickHouseClient; settings: ClickHouseSettings } {
  let client: ClickHouseClient;
  try {
    client = createClient({ ...serverClientOptions(url, security), request_timeout: answerDeadlineMs(limits), log: { level: ClickHouseLogLevel.OFF } });
  } catch (error) {
    throw new SqlQueryError('UNAVAILABLE', `CLICKHOUSE_URL is not usable: ${firstLine(errorMessage(error))}`, { cause: error });
  }
  // wait_end_of_query: the server buffers the result, so an error found late (a limit) is an
  // error status rather than a half-sent 200.
  return { client, settings: { wait_end_of_query: 1, ...readOnlySettings(limits) } };
}

async function chdbClient(dataDir: string | undefined, limits: QueryLimits): Promise<{ client: ClickHouseClient; settings: ClickHouseSettings }> {
  const path = resolve(dataDir ?? 'data/chdb');
  // Never create the directory: a query of a path with no data is a mistake to report.
  const found = await stat(path).then((s) => s.isDirectory(), () => false);
  if (!found) throw new SqlQueryError('UNAVAILABLE', `there is no embedded ClickHouse data in ${path}: run the engine first, or set CLICKHOUSE_DATA_DIR (or CLICKHOUSE_URL)`);
  let client: ClickHouseClient | undefined;
  try {
    // chDB's connection implements the client's Connection contract against its own bundled copy
    // of @clickhouse/client-common, so the two declarations differ only nominally.
    const { createChdbConnection } = await import('chdb/connection'); // native: loaded on first use
    const connection = createChdbConnection({ path }) as unknown as ClickHouseClientConfigOptions['connection'];
    client = createClient({ connection });
    const set = Object.entries(readOnlySettings(limits)).map(([name, value]) => `${name} = ${typeof value === 'number' || /^\d+$/.test(String(value)) ? value : `'${String(value)}'`}`);
    await client.command({ query: `SET ${set.join(', ')}` });
  } catch (error) {
    await client?.close().catch(() => {});
    throw new SqlQueryError(
      'UNAVAILABLE',
      `cannot open the embedded ClickHouse data in ${path}: ${firstLine(errorMessage(error))}. Another process (a running engine?) holds it: query through that engine's SQL endpoint (tributary query --url http://HOST:PORT)`,
      { cause: error },
    );
  }
  return { client, settings: {} };
}
