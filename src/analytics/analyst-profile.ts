import type { ClickHouseClient } from '@clickhouse/client';
import { errorMessage } from '../core/errors.ts';
import { firstLine } from '../clickhouse/errors.ts';
import { queryFailure, SqlQueryError } from './sql-errors.ts';

/** Settings the analyst user's profile must hold, with the test each value must pass. */
const REQUIRED: Record<string, { ok: (value: string) => boolean; want: string }> = {
  readonly: { ok: (v) => v === '1', want: '1' },
  max_memory_usage: { ok: positive, want: 'a limit (not 0)' },
  max_execution_time: { ok: positive, want: 'a limit in seconds (not 0)' },
  max_result_rows: { ok: positive, want: 'a limit (not 0)' },
  max_result_bytes: { ok: positive, want: 'a limit (not 0)' },
  result_overflow_mode: { ok: (v) => v === 'throw', want: 'throw' },
};

function positive(value: string): boolean {
  return /^[1-9][0-9]*$/.test(value);
}

/** Servers whose analyst user passed the check recently: url and user -> until when (ms). */
const checked = new Map<string, number>();
const RECHECK_MS = 60_000;

/**
 * Deny by default on a server: analyst queries run only as a user whose profile makes them
 * read-only (readonly=1, which also stops the user from changing any setting) and bounded
 * (memory, time, result size). The server enforces these; the endpoint only checks they are
 * there, once a minute, and answers 503 naming what is missing otherwise.
 */
export async function checkAnalystProfile(client: ClickHouseClient, key: string, user: string): Promise<void> {
  const until = checked.get(key);
  if (until !== undefined && until > Date.now()) return;
  let values: Map<string, string>;
  try {
    const names = Object.keys(REQUIRED).map((name) => `'${name}'`).join(', ');
    // One row: the profile's own max_result_rows may be smaller than the number of settings.
    const query = `SELECT groupArray(name) AS names, groupArray(value) AS values FROM system.settings WHERE name IN (${names})`;
    const [row] = await (await client.query({ query, format: 'JSONEachRow' })).json<{ names: string[]; values: string[] }>();
    values = new Map((row?.names ?? []).map((name, i) => [name, row!.values[i]!]));
  } catch (error) {
    const problem = queryFailure(error);
    if (problem.sqlCode === 'UNAVAILABLE') throw problem;
    throw new SqlQueryError('UNAVAILABLE', `the ClickHouse analyst user ${user} cannot be used (${firstLine(errorMessage(error))}): check CLICKHOUSE_ANALYST_USER and its password`, { cause: error });
  }
  const wrong = Object.entries(REQUIRED).filter(([name, rule]) => !rule.ok(values.get(name) ?? ''));
  if (wrong.length > 0) {
    const list = wrong.map(([name, rule]) => `${name} is ${values.get(name) ?? 'unset'}, needs ${rule.want}`).join('; ');
    throw new SqlQueryError('UNAVAILABLE', `the ClickHouse user ${user} (CLICKHOUSE_ANALYST_USER) is not a locked-down analyst user: ${list}. Give it a read-only profile with limits (README "For analysts")`);
  }
  checked.set(key, Date.now() + RECHECK_MS);
}
