import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Session } from 'chdb';
import { errorMessage } from '../core/errors.ts';
import { firstLine } from '../clickhouse/errors.ts';
import { SqlQueryError } from './sql-errors.ts';
import { chdbParser, type SqlParser } from './sql-parser.ts';

/** A parser lent to one query; `release` returns it. */
export interface LentParser {
  parser: SqlParser;
  release(): void;
}

/** chDB allows one data directory per process: every parser session shares this one. */
let shared: { dir: string; lent: number } | null = null;

/**
 * ClickHouse's parser for a process that queries a ClickHouse server and has no chDB open:
 * chDB is loaded on the first call (dynamic import), and each query gets a session of its own,
 * read-only, on an empty temporary directory that is removed when the last session is
 * released. Those sessions only format and explain; nothing a caller sends runs there.
 */
export async function lendParser(): Promise<LentParser> {
  let session: Session;
  try {
    const { Session: ChdbSession } = await import('chdb');
    shared ??= { dir: mkdtempSync(join(tmpdir(), 'tributary-sql-parser-')), lent: 0 };
    session = new ChdbSession(shared.dir);
    shared.lent++;
  } catch (error) {
    if (shared !== null && shared.lent === 0) drop();
    throw new SqlQueryError('UNAVAILABLE', `ClickHouse's parser (chDB) cannot be opened in this process: ${firstLine(errorMessage(error))}`, { cause: error });
  }
  try {
    await session.queryAsync('SET max_parser_depth = 300, max_ast_depth = 300, max_ast_elements = 50000, max_query_size = 262144, max_execution_time = 10, max_memory_usage = 67108864, readonly = 1');
  } catch (error) {
    release(session);
    throw new SqlQueryError('UNAVAILABLE', `ClickHouse's parser (chDB) did not start: ${firstLine(errorMessage(error))}`, { cause: error });
  }
  let released = false;
  return {
    parser: chdbParser(session),
    release: () => {
      if (released) return;
      released = true;
      release(session);
    },
  };
}

function release(session: Session): void {
  session.close();
  if (shared !== null && --shared.lent <= 0) drop();
}

function drop(): void {
  if (shared === null) return;
  rmSync(shared.dir, { recursive: true, force: true });
  shared = null;
}
