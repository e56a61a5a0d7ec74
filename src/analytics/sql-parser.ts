import type { Session } from 'chdb';
import { errorMessage } from '../core/errors.ts';
import { clickHouseErrorCode } from '../clickhouse/errors.ts';
import { SqlQueryError } from './sql-errors.ts';

/** ClickHouse's own parser (chDB's), asked about a query without running it. */
export interface SqlParser {
  /**
   * The canonical text of `text`: ClickHouse's formatter's rendering of exactly one statement,
   * without comments or heredocs, on one line. Refuses several statements, a syntax error,
   * and a text whose rendering does not render to itself.
   */
  canonical(text: string): Promise<string>;
  /** The lines of `EXPLAIN AST <canonical>`. */
  explainAst(canonical: string): Promise<string[]>;
  /** Names of the WITH name AS (subquery) tables `canonical` defines, at any level. */
  cteNames(canonical: string): Promise<Set<string>>;
}

/**
 * A parser over a chDB session. The caller's text only ever reaches ClickHouse as the value of
 * a query parameter ({q:String}), which formatQuerySingleLine parses as one statement (it
 * refuses "Multi-statements"); only that canonical text, never the caller's, is put after
 * EXPLAIN, and only once a second formatting proved it stable.
 */
export function chdbParser(session: Pick<Session, 'queryAsync' | 'queryBindAsync'>): SqlParser {
  const rows = async <T>(sql: string, params?: Record<string, string>): Promise<T[]> => {
    const result = params === undefined ? await session.queryAsync(sql, { format: 'JSONEachRow' }) : await session.queryBindAsync(sql, params, { format: 'JSONEachRow' });
    const text = result.text();
    return text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as T);
  };
  const format = async (text: string): Promise<string> => {
    try {
      const [row] = await rows<{ c: string }>('SELECT formatQuerySingleLine({q:String}) AS c', { q: text });
      if (row === undefined) throw new SqlQueryError('INTERNAL', 'the parser answered no row');
      return row.c;
    } catch (error) {
      if (error instanceof SqlQueryError) throw error;
      throw parseFailure(error);
    }
  };
  return {
    async canonical(text) {
      const first = await format(text);
      // A rendering that parses to another rendering would make the checked text and the run
      // text differ in meaning: refuse it.
      if ((await format(first)) !== first) throw new SqlQueryError('NOT_ALLOWED', 'the query was refused: its canonical form is not stable under ClickHouse\'s formatter; rewrite it more plainly');
      return first;
    },
    async explainAst(canonical) {
      try {
        return (await rows<{ explain: string }>(`EXPLAIN AST ${canonical}`)).map((row) => row.explain);
      } catch (error) {
        // A top-level SETTINGS clause applies to EXPLAIN itself, which the read-only session refuses.
        if (clickHouseErrorCode(error) === READONLY) throw new SqlQueryError('NOT_ALLOWED', 'SETTINGS clauses are not allowed: the limits of analyst queries are fixed');
        throw error;
      }
    },
    async cteNames(canonical) {
      const lines = (await rows<{ explain: string }>(`EXPLAIN QUERY TREE run_passes = 0 ${canonical}`)).map((row) => row.explain);
      const names = new Set<string>();
      for (const line of lines) {
        const match = CTE_LINE.exec(line);
        if (match !== null) names.add(match[1]!);
      }
      return names;
    },
  };
}

const READONLY = 164;

/** A CTE in the unanalysed query tree: `QUERY id: 2, is_subquery: 1, is_cte: 1, cte_name: a`. */
const CTE_LINE = /^ *(?:QUERY|UNION) id: \d+(?:, alias: [A-Za-z_]\w*)?(?:, is_subquery: 1)?, is_cte: 1, cte_name: ([A-Za-z_]\w*)(?:, [a-z_]+: \w+)*$/;

/** A syntax error (or a refusal such as several statements) as the caller's mistake, in one line. */
function parseFailure(error: unknown): SqlQueryError {
  const message = errorMessage(error).split('\n', 1)[0]!;
  const detail = /DB::Exception: (.*?)(?:: In scope SELECT formatQuerySingleLine\(.*)?(?: \([A-Z_]+\))?$/.exec(message)?.[1] ?? message;
  const multi = /Multi-statements are not allowed/.test(detail);
  const short = detail.length > 300 ? `${detail.slice(0, 300)}…` : detail;
  return new SqlQueryError('BAD_REQUEST', multi ? 'send one statement per request (found more after a ";")' : /Empty query/.test(detail) ? 'the SQL text is empty: send one SELECT statement as the request body' : `the query does not parse: ${short}`, { cause: error });
}
