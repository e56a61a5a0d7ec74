import { SqlQueryError } from './sql-errors.ts';

/**
 * Refuses names in backquotes or double quotes, and any byte outside printable ASCII, outside
 * string literals of the canonical text. EXPLAIN AST prints names raw, so a quoted name with a
 * newline could forge lines of the tree; plain names cannot. The formatter writes strings as
 * '...' with backslash escapes, which this skips.
 */
export function refuseQuotedNames(canonical: string): void {
  for (let i = 0; i < canonical.length; i++) {
    const c = canonical[i]!;
    if (c === "'") {
      for (i++; i < canonical.length && canonical[i] !== "'"; i++) if (canonical[i] === '\\') i++;
      if (i >= canonical.length) throw new SqlQueryError('NOT_ALLOWED', 'the query was refused: a string in its canonical form is not closed');
    } else if (c === '`' || c === '"') {
      throw new SqlQueryError('NOT_ALLOWED', 'quoted names (`name` or "name") are not allowed: use plain names (letters, digits, _) for columns and aliases');
    } else if (c < ' ' || c > '~') {
      throw new SqlQueryError('NOT_ALLOWED', 'the query was refused: its canonical form has a character outside printable ASCII outside a string');
    }
  }
}
