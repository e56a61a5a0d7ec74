import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAstDump } from '../../../src/analytics/ast-dump.ts';
import { checkAnalystQuery } from '../../../src/analytics/query-allowlist.ts';
import { isAllowedFunction } from '../../../src/analytics/function-allowlist.ts';
import { SqlQueryError } from '../../../src/analytics/sql-errors.ts';

/** Dumps as ClickHouse 26.7's EXPLAIN AST prints them (copied from chDB 3.4's output). */
const lines = (text: string) => text.replace(/^\n/, '').split('\n');

const SELECT_FROM_PAYMENTS = lines(`
SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 2)
    Function count (alias n) (children 1)
     ExpressionList
    Literal 'a (alias b)' (alias s)
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier payments (alias p)`);

/** The canonical texts are beside the point here, but for the quoted-name test. */
const CANONICAL = "SELECT count() AS n, 'a (alias b)' AS s FROM payments AS p";

function refusal(dump: string[], canonical = CANONICAL): string {
  try {
    checkAnalystQuery(dump, canonical);
    return 'accepted';
  } catch (error) {
    assert.ok(error instanceof SqlQueryError);
    return `${error.sqlCode}: ${error.message}`;
  }
}

test('a dump becomes a tree: names, aliases, literal values with quoted text, children', () => {
  const root = parseAstDump(SELECT_FROM_PAYMENTS);
  const select = root.children[0]!.children[0]!;
  assert.equal(select.type, 'SelectQuery');
  assert.deepEqual(select.children[0]!.children.map((n) => [n.type, n.name ?? n.value, n.alias]), [['Function', 'count', 'n'], ['Literal', "'a (alias b)'", 's']]);
  const table = select.children[1]!.children[0]!.children[0]!.children[0]!;
  assert.deepEqual([table.type, table.name, table.alias], ['TableIdentifier', 'payments', 'p']);
  assert.deepEqual(checkAnalystQuery(SELECT_FROM_PAYMENTS, CANONICAL), { tables: [{ table: 'payments' }], definesCtes: false });
});

test('forged and malformed dumps are refused, never read loosely', () => {
  // What a backquoted name with a newline printed (found by the lead): a fake Function line
  // under SelectQuery and a stray "x" line.
  const forged = lines(`
SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Identifier a (alias b)
   Function file (children 1)
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier t
x`);
  assert.match(refusal(forged), /^NOT_ALLOWED: .*could not be read strictly/);
  // The canonical text of that query has backquotes: refused before its dump is read at all.
  assert.match(refusal(forged, 'SELECT `a (alias b)\\n   Function file (children 1)` FROM `t\\nx`'), /^NOT_ALLOWED: quoted names/);
  assert.match(refusal(SELECT_FROM_PAYMENTS, 'SELECT "x" FROM payments'), /^NOT_ALLOWED: quoted names/);
  assert.match(refusal(SELECT_FROM_PAYMENTS, "SELECT '`' AS s, x\u00a0FROM payments"), /^NOT_ALLOWED: .*printable ASCII/);
  assert.equal(refusal(SELECT_FROM_PAYMENTS, "SELECT 'it\\'s `quoted` \"text\"' AS s FROM payments"), 'accepted');
  const cases: Record<string, string[]> = {
    'two roots': [...SELECT_FROM_PAYMENTS, 'SelectWithUnionQuery'],
    'a count that does not match': SELECT_FROM_PAYMENTS.map((l) => l.replace('SelectQuery (children 2)', 'SelectQuery (children 3)')),
    'a leaf with children': [...SELECT_FROM_PAYMENTS.slice(0, -1), '      TableIdentifier payments (children 1)', '       Identifier x'],
    'a name with a space': SELECT_FROM_PAYMENTS.map((l) => l.replace('TableIdentifier payments (alias p)', 'TableIdentifier pay ments')),
    'a skipped level': SELECT_FROM_PAYMENTS.map((l) => l.replace('      TableIdentifier', '        TableIdentifier')),
    'an unterminated literal': SELECT_FROM_PAYMENTS.map((l) => l.replace("Literal 'a (alias b)' (alias s)", "Literal 'a (alias s)")),
    'an empty answer': [],
  };
  for (const [what, dump] of Object.entries(cases)) assert.match(refusal(dump), /^NOT_ALLOWED: /, what);
});

test('statements other than SELECT, FORMAT, INTO OUTFILE and SETTINGS at any depth', () => {
  assert.match(refusal(['DescribeQuery (children 1)', ' TableExpression (children 1)', '  Function url (children 1)', '   ExpressionList']), /^NOT_READ_ONLY: .*not DESCRIBE/);
  assert.match(refusal(['ShowTables']), /^NOT_READ_ONLY: .*not SHOW/);
  assert.match(refusal(['ExistsTableQuery  t (children 1)', ' Identifier t']), /^NOT_READ_ONLY: .*not EXISTS/);
  const select1 = ['SelectWithUnionQuery (children 2)', ' ExpressionList (children 1)', '  SelectQuery (children 1)', '   ExpressionList (children 1)', '    Literal UInt64_1'];
  assert.match(refusal([...select1.slice(0, 5).map((l, i) => (i === 0 ? 'SelectWithUnionQuery (children 3)' : l)), " Literal 'f'", ' Identifier CSV']), /^NOT_READ_ONLY: INTO OUTFILE/);
  assert.match(refusal([...select1, ' Identifier JSON']), /^BAD_REQUEST: remove the FORMAT clause/);
  const nestedSet = lines(`
SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Subquery (children 1)
       SelectWithUnionQuery (children 1)
        ExpressionList (children 1)
         SelectQuery (children 2)
          ExpressionList (children 1)
           Literal UInt64_1
          Set`);
  assert.match(refusal(nestedSet), /^NOT_ALLOWED: SETTINGS clauses are not allowed/);
});

test('functions: table functions, unlisted functions, IN with a table name', () => {
  const withFunction = (name: string, parent: 'select' | 'from') =>
    parent === 'select'
      ? ['SelectWithUnionQuery (children 1)', ' ExpressionList (children 1)', '  SelectQuery (children 1)', '   ExpressionList (children 1)', `    Function ${name} (children 1)`, '     ExpressionList (children 1)', "      Literal '/etc/passwd'"]
      : ['SelectWithUnionQuery (children 1)', ' ExpressionList (children 1)', '  SelectQuery (children 2)', '   ExpressionList (children 1)', '    Asterisk', '   TablesInSelectQuery (children 1)', '    TablesInSelectQueryElement (children 1)', '     TableExpression (children 1)', `      Function ${name} (children 1)`, '       ExpressionList (children 1)', "        Literal '/etc/passwd'"];
  assert.match(refusal(withFunction('file', 'select')), /^NOT_ALLOWED: the function file is not allowed/);
  assert.match(refusal(withFunction('FILE', 'select')), /^NOT_ALLOWED: the function FILE is not allowed/);
  assert.match(refusal(withFunction('getSetting', 'select')), /^NOT_ALLOWED/);
  assert.match(refusal(withFunction('file', 'from')), /^NOT_ALLOWED: table functions are not allowed \(file\)/);
  assert.match(refusal(withFunction('numbers', 'from')), /^NOT_ALLOWED: table functions are not allowed \(numbers\)/);
  assert.equal(refusal(withFunction('lower', 'select')), 'accepted');
  assert.equal(refusal(withFunction('LOWER', 'select')), 'accepted');
  const inTable = ['SelectWithUnionQuery (children 1)', ' ExpressionList (children 1)', '  SelectQuery (children 1)', '   ExpressionList (children 1)', '    Function globalNotIn (children 1)', '     ExpressionList (children 2)', '      Identifier x', '      Identifier secrets'];
  assert.match(refusal(inTable), /^NOT_ALLOWED: "IN secrets" names a table/);
  assert.equal(refusal(inTable.map((l) => l.replace('Identifier secrets', 'Literal UInt64_1'))), 'accepted');
  assert.match(refusal(inTable.map((l) => l.replace('Identifier secrets', 'QueryParameter x:String'))), /^NOT_ALLOWED: QueryParameter is not allowed/);
});

test('the function allowlist: pure functions, aggregates with combinators; nothing that reaches out', () => {
  for (const name of ['plus', 'count', 'COUNT', 'countIf', 'countDistinct', 'uniqExactIf', 'sumArray', 'sumMap', 'avgOrNull', 'sumMergeState', 'toStartOfMinute', 'multiIf', 'arrayMap', 'lambda', 'row_number']) {
    assert.ok(isAllowedFunction(name), name);
  }
  for (const name of ['file', 'url', 's3', 'remote', 'input', 'getSetting', 'currentUser', 'hostName', 'version', 'uptime', 'dictGet', 'dictGetString', 'joinGet', 'sleep', 'sleepEachRow', 'throwIf', 'hasColumnInTable', 'currentDatabase', 'getMacro', 'addressToSymbol', 'catboostEvaluate', 'arrayReduce', 'filesystemAvailable', 'fileIf', 'sleepIf', 'getSettingOrDefault', 'executable']) {
    assert.ok(!isAllowedFunction(name), name);
  }
});

test('limits on size and depth', () => {
  const deep = ['SelectWithUnionQuery (children 1)', ...Array.from({ length: 300 }, (_, i) => `${' '.repeat(i + 1)}ExpressionList (children 1)`), `${' '.repeat(301)}Literal UInt64_1`];
  assert.match(refusal(deep), /^TOO_LARGE: .*nested more than 256 levels/);
});
