import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Session } from 'chdb';
import { errorMessage } from '../core/errors.ts';
import { firstLine } from '../clickhouse/errors.ts';
import type { AnalystBackend } from './analyst-backend.ts';
import { executionSeconds, type ResultFormat } from './result-format.ts';
import type { QueryLimits } from './sql-config.ts';
import { queryFailure, SqlQueryError } from './sql-errors.ts';
import { chdbParser } from './sql-parser.ts';
import { purgeFreedMemory } from './chdb-memory.ts';

/** The parse steps' own bounds: they answer a few rows each, but a hostile text must not make them costly. */
const PARSE_SETTINGS: Array<[string, number | string]> = [
  ['max_parser_depth', 300],
  ['max_ast_depth', 300],
  ['max_ast_elements', 50_000],
  ['max_query_size', 262_144],
  ['max_execution_time', 10],
  ['max_memory_usage', 64 * 1024 * 1024],
  ['readonly', 1],
];

/**
 * The limits as settings of an analyst session, `readonly` last so the others are set before
 * it locks them. The parse limits bound what a hostile text can make the parser do; the AST
 * allowlist refuses SETTINGS clauses, which could otherwise lift these inside a subquery.
 */
export function analystSettings(limits: QueryLimits): Array<[string, number | string]> {
  return [
    ['max_memory_usage', limits.maxMemoryBytes],
    ['max_execution_time', executionSeconds(limits)],
    ['timeout_overflow_mode', 'throw'],
    ['timeout_before_checking_execution_speed', 0],
    ['max_result_rows', limits.maxRows],
    ['max_result_bytes', limits.maxResultBytes],
    ['result_overflow_mode', 'throw'],
    ['max_threads', limits.maxThreads],
    ...PARSE_SETTINGS.filter(([name]) => name.startsWith('max_parser') || name.startsWith('max_ast') || name === 'max_query_size'),
    ['readonly', 1],
  ];
}

const setStatement = (settings: Array<[string, number | string]>) => `SET ${settings.map(([name, value]) => `${name} = ${typeof value === 'number' ? value : `'${value}'`}`).join(', ')}`;

/**
 * Embedded chDB: two sessions of this query's own on the engine's data directory (sessions in
 * one process share the data; the engine's session is never touched, since chDB turns settings
 * into session-wide SETs that would otherwise reach the sinks' inserts). Both are read-only
 * from the start: one parses and explains, the other, locked with the query limits in
 * `database`, runs the checked statement (the limits would cut the parser's longer answers).
 */
export async function openChdbBackend(dataDir: string | undefined, database: string, limits: QueryLimits): Promise<AnalystBackend> {
  const path = resolve(dataDir ?? 'data/chdb');
  // Never create the directory: a query of a path with no data is a mistake to report.
  const found = await stat(path).then((s) => s.isDirectory(), () => false);
  if (!found) throw new SqlQueryError('UNAVAILABLE', `there is no embedded ClickHouse data in ${path}: run the engine first, or set CLICKHOUSE_DATA_DIR (or CLICKHOUSE_URL)`);
  let session: Session | undefined;
  let parsing: Session | undefined;
  const { Session: ChdbSession } = await import('chdb');
  try {
    parsing = new ChdbSession(path);
    await parsing.queryAsync(setStatement(PARSE_SETTINGS));
    session = new ChdbSession(path);
    if (database !== 'default') await session.queryAsync(`USE ${plainName(database)}`);
    await session.queryAsync(setStatement(analystSettings(limits)));
  } catch (error) {
    parsing?.close();
    session?.close();
    throw new SqlQueryError(
      'UNAVAILABLE',
      `cannot open the embedded ClickHouse data in ${path}: ${firstLine(errorMessage(error))}. Another process (a running engine?) holds it: query through that engine's SQL endpoint (tributary query --url http://HOST:PORT)`,
      { cause: error },
    );
  }
  const open = session;
  const parser = parsing;
  return {
    database,
    parser: chdbParser(parser),
    async databaseTables() {
      const result = await parser.queryBindAsync('SELECT name FROM system.tables WHERE database = {db:String}', { db: database }, { format: 'JSONEachRow' });
      const text = result.text().trimEnd();
      return new Set(text === '' ? [] : text.split('\n').map((line) => (JSON.parse(line) as { name: string }).name));
    },
    async run(canonical: string, format: ResultFormat) {
      try {
        // Wrapped: chDB 26.7 skips max_result_rows and max_result_bytes for a SELECT without
        // FROM (SELECT arrayJoin(range(1000000)) answered a million rows under a limit of 5).
        // No abort signal: chDB would only stop waiting, not the query; waiting for its own end
        // (max_execution_time) keeps the query counted against the concurrency limit meanwhile.
        const result = await open.queryAsync(`SELECT * FROM (${canonical})`, { format });
        // Formatting can make an answer larger than max_result_bytes counted it (JSON escapes):
        // bounded here before it becomes a string.
        if (result.bytes().byteLength > limits.maxResultBytes * 4) {
          throw new SqlQueryError('ROW_LIMIT', `the answer is larger than ${Math.round((limits.maxResultBytes * 4) / 1024 / 1024)} MiB: add a LIMIT or aggregate`);
        }
        return result.text();
      } catch (error) {
        throw queryFailure(error);
      }
    },
    async close() {
      // Deferred by chDB behind a query still running (an abandoned one ends at max_execution_time).
      parser.close();
      open.close();
      await purgeFreedMemory(() => new ChdbSession(path));
    },
  };
}

/** The database name as SQL: configuration, but checked like any name that reaches a statement. */
export function plainName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new SqlQueryError('UNAVAILABLE', `the database name "${name}" is not a plain name (letters, digits, _)`);
  return name;
}
