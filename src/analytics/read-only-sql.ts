import { SqlQueryError } from './sql-errors.ts';

/** Statements an analyst may run: they only read. */
export const READ_ONLY_STATEMENTS = ['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXISTS'] as const;

/** Longest SQL text accepted (bytes of UTF-8). */
export const MAX_SQL_BYTES = 64 * 1024;

const ALLOWED = new Set<string>(READ_ONLY_STATEMENTS);

/**
 * Checks that `sql` is one read-only statement and returns it without trailing semicolons.
 * This is the first of two guards: it gives clear errors for the common mistakes and blocks
 * what ClickHouse's `readonly` setting lets through (INTO OUTFILE writes a file in chDB, and a
 * second statement would run in chDB's session); the query then runs with readonly=1, which
 * refuses every write, SET, SETTINGS clause and outside-reaching table function.
 *
 * Strings, quoted identifiers and comments are blanked before looking at keywords, so
 * `SELECT 'a; DROP'` is one statement. Where this scanner and the server could disagree
 * (`#` comments, heredocs), the scanner sees more statements, never fewer.
 */
export function readOnlyStatement(sql: string): string {
  if (Buffer.byteLength(sql, 'utf8') > MAX_SQL_BYTES) {
    throw new SqlQueryError('TOO_LARGE', `the SQL text is longer than ${MAX_SQL_BYTES} bytes`);
  }
  const masked = maskLiterals(sql);
  // Trailing semicolons and whitespace (comments included) end the statement.
  const end = masked.replace(/[\s;]+$/, '').length;
  const code = masked.slice(0, end);
  const statement = sql.slice(0, end);
  if (code.trim() === '') throw new SqlQueryError('BAD_REQUEST', 'the SQL text is empty: send one SELECT, WITH, SHOW, DESCRIBE or EXISTS statement as the request body');
  if (code.includes(';')) throw new SqlQueryError('BAD_REQUEST', 'send one statement per request (found a ";" between statements)');
  const keyword = /^[\s(]*([A-Za-z]+)/.exec(code)?.[1]?.toUpperCase();
  if (keyword === undefined || !ALLOWED.has(keyword)) {
    throw new SqlQueryError('NOT_READ_ONLY', `only read-only statements are allowed (${READ_ONLY_STATEMENTS.join(', ')}), not ${keyword ?? 'this'}`);
  }
  if (/\bINTO\s+OUTFILE\b/i.test(code)) throw new SqlQueryError('NOT_READ_ONLY', 'INTO OUTFILE is not allowed: the result comes back in the answer');
  if (/\bFORMAT\s+[A-Za-z_][A-Za-z0-9_]*\s*$/i.test(code)) {
    throw new SqlQueryError('BAD_REQUEST', 'remove the FORMAT clause: choose the format with ?format=JSON|CSV|TabSeparated (or --format)');
  }
  return statement;
}

/** Stands for each character of a literal in the masked text: neither a word, a space nor ';'. */
const LITERAL = '\u0000';

/**
 * The text with every string literal and quoted identifier replaced by LITERAL characters and
 * every comment by spaces, of the same length (so positions match the original). Throws on an
 * unterminated quote or comment.
 */
export function maskLiterals(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "'" || c === '"' || c === '`') {
      const close = closingQuote(sql, i, c);
      // Not spaces: a literal at the end is part of the statement, a comment is not.
      out += LITERAL.repeat(close + 1 - i);
      i = close + 1;
    } else if (c === '-' && next === '-') {
      const newline = sql.indexOf('\n', i);
      const stop = newline === -1 ? sql.length : newline;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close === -1) throw new SqlQueryError('BAD_REQUEST', 'a /* comment is not closed');
      out += ' '.repeat(close + 2 - i);
      i = close + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Index of the quote closing the one at `start`: a backslash escapes, a doubled quote is one. */
function closingQuote(sql: string, start: number, quote: string): number {
  for (let i = start + 1; i < sql.length; i++) {
    const c = sql[i];
    if (c === '\\') i++;
    else if (c === quote) {
      if (sql[i + 1] === quote) i++;
      else return i;
    }
  }
  const kind = quote === "'" ? 'string' : 'quoted identifier';
  throw new SqlQueryError('BAD_REQUEST', `a ${kind} starting at character ${start + 1} is not closed`);
}
