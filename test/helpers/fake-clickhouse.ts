/** Helpers for unit tests that stand a fake client in for ClickHouse. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';

/**
 * The system.tables row of the table the DDL creates, as the server reports it; `engine`, when
 * given, stands for a table created earlier with another engine and the same key.
 */
export function existingTable(ddl: string, engine?: string): { engine: string; engine_full: string; sorting_key: string } {
  const created = /ENGINE = (\w+)(\(`(\w+)`\))?/.exec(ddl)!;
  const key = /ORDER BY \((.*)\)/.exec(ddl)![1]!.replace(/`/g, '');
  const name = engine ?? created[1]!;
  const version = engine === undefined && created[3] ? `(${created[3]})` : '';
  return { engine: name, engine_full: `${name}${version} ORDER BY (${key}) SETTINGS index_granularity = 8192`, sorting_key: key };
}

export interface FakeInsert { table: string; columns: string[]; format: string; values: unknown[]; settings: Record<string, unknown> }

/** What `client.exec` is called with. */
export interface ExecParams { query: string; values?: AsyncIterable<string | Buffer>; clickhouse_settings?: Record<string, unknown> }

/**
 * An `INSERT INTO t (columns) FORMAT f` sent through `exec` with its body, as the server gets
 * it: the table and the (quoted) columns from the statement, and each line of the body parsed
 * as JSON. Undefined for other statements.
 */
export async function readInsert(params: ExecParams): Promise<(FakeInsert & { body: string; chunks: number }) | undefined> {
  const statement = /^INSERT INTO (\S+) \((.*)\) FORMAT (\w+)$/.exec(params.query);
  if (statement === null || params.values === undefined) return undefined;
  let body = '';
  let chunks = 0;
  for await (const chunk of params.values) {
    body += String(chunk);
    chunks++;
  }
  assert.ok(body.endsWith('\n'), 'every row of the body ends with a newline');
  const values = body.slice(0, -1).split('\n').map((line) => JSON.parse(line) as unknown);
  return { table: statement[1]!, columns: statement[2]!.split(', '), format: statement[3]!, values, settings: params.clickhouse_settings ?? {}, body, chunks };
}

/** A fake `exec` that hands each insert to `onInsert` and answers with an empty body. */
export function fakeExec(onInsert: (insert: FakeInsert) => void): (params: ExecParams) => Promise<{ stream: Readable }> {
  return async (params) => {
    const insert = await readInsert(params);
    assert.ok(insert !== undefined, `exec of an unexpected statement: ${params.query}`);
    const { body: _body, chunks: _chunks, ...seen } = insert;
    onInsert(seen);
    return { stream: Readable.from([]) };
  };
}

/**
 * A client that answers the dialect queries as 18.16 or as a current server (chDB 26: compact
 * inserts, insert tokens, the deduplication window), reports the table the last DDL created
 * (or one with engine `existing`), and keeps DDL and inserts.
 */
export function fakeClickHouse(current: boolean, existing?: (ddl: string) => { engine: string; engine_full: string; sorting_key: string }) {
  const seen = { ddl: [] as string[], inserts: [] as FakeInsert[] };
  const answer = (query: string): unknown[] => {
    if (query.includes('version()')) return [{ version: current ? '26.7.2.1' : '18.16.1' }];
    if (query.includes('engine_full')) return [(existing ?? existingTable)(seen.ddl.at(-1)!)];
    if (query.includes('system.merge_tree_settings')) return current ? [{ name: 'non_replicated_deduplication_window' }] : [];
    if (query.includes('system.settings')) return current ? [{ name: 'insert_deduplication_token', value: '' }, { name: 'async_insert', value: '1' }] : [];
    if (query.includes('system.tables')) return [{ name: 'formats' }];
    if (query.includes('system.formats')) return current ? [{ name: 'JSONCompactEachRow' }] : [];
    return [];
  };
  const client = {
    query: async ({ query }: { query: string }) => ({ json: async () => answer(query) }),
    command: async ({ query }: { query: string }) => void seen.ddl.push(query),
    // The sinks send their inserts through exec (the body as one Buffer); other writers (batch predictions) use insert.
    exec: fakeExec((insert) => seen.inserts.push(insert)),
    insert: async (params: { table: string; columns: string[]; format: string; values: unknown[]; clickhouse_settings?: Record<string, unknown> }) =>
      void seen.inserts.push({ table: params.table, columns: params.columns, format: params.format, values: params.values, settings: params.clickhouse_settings ?? {} }),
  };
  return { client: client as unknown as ClickHouseClient, seen };
}
