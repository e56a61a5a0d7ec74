import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Session } from 'chdb';
import { errorMessage } from '../core/errors.ts';
import { firstLine } from '../clickhouse/errors.ts';
import { SqlQueryError } from './sql-errors.ts';
import { chdbParser, type SqlParser } from './sql-parser.ts';
import { purgeFreedMemory } from './chdb-memory.ts';

/** A parser lent to one query; `release` returns it. */
export interface LentParser {
  parser: SqlParser;
  release(): Promise<void>;
}

/** How long the parser instance stays open after its last query. */
const IDLE_MS = 60_000;

/**
 * chDB allows one data directory per process, and opening its instance costs ~40 ms and leaks
 * a little each time (measured: ~0.1 MB per open and close): one instance, kept open by a
 * session of its own while queries come, shared by every parser session.
 */
let shared: { dir: string; keeper: Session; open: typeof Session; lent: number; idle?: NodeJS.Timeout; closing: boolean } | null = null;

/**
 * ClickHouse's parser for a process that queries a ClickHouse server and has no chDB open:
 * chDB is loaded on the first call (dynamic import), and each query gets a read-only session of
 * its own on an empty temporary directory, which is removed a minute after the last query (or
 * at `closeSqlParser`). Those sessions only format and explain; nothing a caller sends runs there.
 */
export async function lendParser(): Promise<LentParser> {
  let session: Session;
  try {
    const state = await instance();
    session = new state.open(state.dir);
    state.lent++;
    clearTimeout(state.idle);
  } catch (error) {
    throw new SqlQueryError('UNAVAILABLE', `ClickHouse's parser (chDB) cannot be opened in this process: ${firstLine(errorMessage(error))}`, { cause: error });
  }
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    session.close();
    const state = shared;
    if (state === null) return;
    await purgeFreedMemory(() => new state.open(state.dir));
    if (--state.lent > 0) return;
    if (state.closing) drop();
    else state.idle = setTimeout(drop, IDLE_MS).unref();
  };
  try {
    await session.queryAsync('SET max_parser_depth = 300, max_ast_depth = 300, max_ast_elements = 50000, max_query_size = 262144, max_execution_time = 10, max_memory_usage = 67108864, readonly = 1');
  } catch (error) {
    await release();
    throw new SqlQueryError('UNAVAILABLE', `ClickHouse's parser (chDB) did not start: ${firstLine(errorMessage(error))}`, { cause: error });
  }
  return { parser: chdbParser(session), release };
}

/**
 * Closes the parser's chDB instance now, or once its queries are done, so that this process
 * can open a chDB data directory (chDB allows one per process). Tests that query a server and
 * then embedded chDB in one process call it between the two.
 */
export function closeSqlParser(): void {
  if (shared === null) return;
  if (shared.lent === 0) drop();
  else shared.closing = true;
}

async function instance(): Promise<NonNullable<typeof shared>> {
  if (shared !== null) return shared;
  const { Session: open } = await import('chdb');
  if (shared !== null) return shared; // another query opened it meanwhile
  const dir = mkdtempSync(join(tmpdir(), 'tributary-sql-parser-'));
  try {
    shared = { dir, keeper: new open(dir), open, lent: 0, closing: false };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return shared;
}

function drop(): void {
  const state = shared;
  if (state === null || state.lent > 0) return;
  shared = null;
  clearTimeout(state.idle);
  state.keeper.close();
  rmSync(state.dir, { recursive: true, force: true });
}
