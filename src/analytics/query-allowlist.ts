import { parseAstDump, statementType, type AstNode } from './ast-dump.ts';
import { refuseQuotedNames } from './canonical-names.ts';
import { IN_FUNCTIONS, isAllowedFunction } from './function-allowlist.ts';
import { SqlQueryError } from './sql-errors.ts';

/** A table the query reads, as written: `db.table` or `table` (which may also name a CTE). */
export interface TableReference {
  database?: string;
  table: string;
}

/** What the allowlist found in an accepted query, for the table rule (table-rule.ts). */
export interface AllowedQuery {
  tables: TableReference[];
  /** The query defines WITH name AS (subquery) tables: unqualified names may be theirs. */
  definesCtes: boolean;
}

/**
 * Node types an analyst query may contain: one SELECT (UNION, INTERSECT and EXCEPT of SELECTs,
 * WITH, joins, ARRAY JOIN, subqueries, window functions) and its expressions. Anything else,
 * whatever it is, is refused: `Set` (a SETTINGS clause at any level), `QueryParameter`,
 * column transformers that apply functions (APPLY, REPLACE), INTERPOLATE, and every statement
 * other than SELECT.
 */
const ALLOWED_TYPES = new Set([
  'SelectWithUnionQuery',
  'SelectIntersectExceptQuery',
  'SelectQuery',
  'ExpressionList',
  'TablesInSelectQuery',
  'TablesInSelectQueryElement',
  'TableExpression',
  'TableJoin',
  'ArrayJoin',
  'TableIdentifier',
  'Identifier',
  'Function',
  'Literal',
  'Asterisk',
  'QualifiedAsterisk',
  'ColumnsRegexpMatcher',
  'ColumnsListMatcher',
  'ColumnsTransformerList',
  'ColumnsExceptTransformer',
  'Subquery',
  'WithElement',
  'OrderByElement',
  'WindowDefinition',
  'WindowListElement',
  'SampleRatio',
]);

/** What each refused statement is, for a message that names it. */
const STATEMENTS: Record<string, string> = {
  DescribeQuery: 'DESCRIBE',
  ShowTables: 'SHOW',
  ExistsTableQuery: 'EXISTS',
  ExplainQuery: 'EXPLAIN',
  InsertQuery: 'INSERT',
  AlterQuery: 'ALTER',
  CreateQuery: 'CREATE',
  DropQuery: 'DROP',
  OptimizeQuery: 'OPTIMIZE',
  SetQuery: 'SET',
  UseQuery: 'USE',
  KillQueryQuery: 'KILL',
  SystemQuery: 'SYSTEM',
  GrantQuery: 'GRANT',
  RenameQuery: 'RENAME',
  CheckQuery: 'CHECK',
};

/**
 * Checks the `EXPLAIN AST` lines of a canonical query against the allowlist: one SELECT
 * statement (the root has its one child: no FORMAT, no INTO OUTFILE), plain names only (so the
 * dump's lines cannot be forged), only allowlisted node types and functions, no SETTINGS
 * anywhere, no table functions, no table named on the right of IN. Returns the tables it
 * reads; throws SqlQueryError naming what was refused and why.
 */
export function checkAnalystQuery(dumpLines: readonly string[], canonical: string): AllowedQuery {
  const kind = statementType(dumpLines);
  if (kind === undefined) parseAstDump(dumpLines); // refuses what it cannot read
  if (kind !== 'SelectWithUnionQuery') {
    const name = kind === undefined ? 'this statement' : (STATEMENTS[kind] ?? kind.replace(/Query$/, '').toUpperCase());
    throw new SqlQueryError('NOT_READ_ONLY', `only a SELECT statement (with WITH, UNION, joins and subqueries) may run, not ${name}`);
  }
  // The root's line is its own class name, whatever the query says; every other line may carry
  // a name, printed raw: only plain names keep one node per line.
  refuseQuotedNames(canonical);
  const root = parseAstDump(dumpLines);
  const extra = root.children.slice(1);
  if (extra.some((child) => child.type === 'Literal')) throw new SqlQueryError('NOT_READ_ONLY', 'INTO OUTFILE is not allowed: the result comes back in the answer');
  if (extra.length > 0) throw new SqlQueryError('BAD_REQUEST', 'remove the FORMAT clause: choose the format with ?format=JSON|CSV|TabSeparated (or --format)');
  const found: AllowedQuery = { tables: [], definesCtes: false };
  visit(root, undefined, found);
  return found;
}

function visit(node: AstNode, parent: AstNode | undefined, found: AllowedQuery): void {
  if (node.type === 'Set') throw new SqlQueryError('NOT_ALLOWED', 'SETTINGS clauses are not allowed: the limits of analyst queries are fixed');
  if (!ALLOWED_TYPES.has(node.type)) throw new SqlQueryError('NOT_ALLOWED', `${describeType(node.type)} is not allowed in an analyst query`);
  switch (node.type) {
    case 'SelectWithUnionQuery':
      if (node.children.length !== 1) throw new SqlQueryError('NOT_ALLOWED', 'FORMAT and INTO OUTFILE are not allowed inside a query');
      break;
    case 'Function':
      checkFunction(node, parent);
      break;
    case 'TableIdentifier':
      found.tables.push(tableReference(node.name!));
      break;
    case 'WithElement':
      found.definesCtes = true;
      break;
  }
  for (const child of node.children) visit(child, node, found);
}

function checkFunction(node: AstNode, parent: AstNode | undefined): void {
  const name = node.name!;
  if (parent?.type === 'TableExpression') {
    throw new SqlQueryError('NOT_ALLOWED', `table functions are not allowed (${name}): read the topology's tables by name`);
  }
  if (!isAllowedFunction(name)) throw new SqlQueryError('NOT_ALLOWED', `the function ${name} is not allowed in analyst queries (they may call pure functions only)`);
  if (IN_FUNCTIONS.has(name.toLowerCase())) {
    const right = node.children[0]?.children[1];
    if (right?.type === 'Identifier') throw new SqlQueryError('NOT_ALLOWED', `"IN ${right.name}" names a table: write IN (SELECT ... FROM ${right.name})`);
  }
}

function tableReference(name: string): TableReference {
  const parts = name.split('.');
  if (parts.length === 1) return { table: parts[0]! };
  if (parts.length === 2) return { database: parts[0]!, table: parts[1]! };
  throw new SqlQueryError('NOT_ALLOWED', `"${name}" is not a table name`);
}

function describeType(type: string): string {
  const known: Record<string, string> = {
    QueryParameter: 'a query parameter ({name:Type})',
    ColumnsApplyTransformer: 'APPLY',
    ColumnsReplaceTransformer: 'REPLACE',
    InterpolateElement: 'INTERPOLATE',
  };
  return known[type] ?? type;
}

