import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskLiterals, readOnlyStatement } from '../../../src/analytics/read-only-sql.ts';
import { SqlQueryError } from '../../../src/analytics/sql-errors.ts';

function refusal(sql: string): [string, number] {
  try {
    readOnlyStatement(sql);
  } catch (error) {
    assert.ok(error instanceof SqlQueryError);
    return [error.sqlCode, error.status];
  }
  return ['accepted', 200];
}

test('read statements pass, without trailing semicolons and comments', () => {
  assert.equal(readOnlyStatement('SELECT 1'), 'SELECT 1');
  assert.equal(readOnlyStatement('  select count() from payments final ;; \n'), '  select count() from payments final');
  assert.equal(readOnlyStatement("SHOW TABLES LIKE 'fraud%' -- mine"), "SHOW TABLES LIKE 'fraud%'");
  assert.equal(readOnlyStatement('WITH 1 AS x SELECT x /* done */'), 'WITH 1 AS x SELECT x');
  assert.equal(readOnlyStatement('(SELECT 1) UNION ALL (SELECT 2)'), '(SELECT 1) UNION ALL (SELECT 2)');
  for (const sql of ['DESCRIBE TABLE payments', 'DESC payments', 'EXISTS TABLE payments', "SELECT ';' AS semicolon", "SELECT 'it''s; DROP TABLE x'", "SELECT 'a\\'; DROP' AS s", 'SELECT `weird;name` FROM t', 'SELECT format FROM t', 'SELECT settings FROM t']) {
    assert.equal(refusal(sql)[0], 'accepted', sql);
  }
});

test('anything else is refused with a code and status', () => {
  const cases: Array<[string, [string, number]]> = [
    ['', ['BAD_REQUEST', 400]],
    [' ; -- nothing', ['BAD_REQUEST', 400]],
    ['INSERT INTO t VALUES (1)', ['NOT_READ_ONLY', 403]],
    ['drop table t', ['NOT_READ_ONLY', 403]],
    ['/* SELECT */ ALTER TABLE t DELETE WHERE 1', ['NOT_READ_ONLY', 403]],
    ["'SELECT'", ['NOT_READ_ONLY', 403]],
    ['SELECT 1; SELECT 2', ['BAD_REQUEST', 400]],
    ['SELECT 1; DROP TABLE t', ['BAD_REQUEST', 400]],
    ["SELECT 1 INTO OUTFILE '/tmp/x'", ['NOT_READ_ONLY', 403]],
    ["SELECT 1 INTO/**/OUTFILE '/tmp/x'", ['NOT_READ_ONLY', 403]],
    ['SELECT 1 FORMAT JSON', ['BAD_REQUEST', 400]],
    ["SELECT 'unterminated", ['BAD_REQUEST', 400]],
    ['SELECT `unterminated', ['BAD_REQUEST', 400]],
    ['SELECT 1 /* open', ['BAD_REQUEST', 400]],
    ['SELECT ' + "'x'".repeat(30_000), ['TOO_LARGE', 413]],
  ];
  for (const [sql, expected] of cases) assert.deepEqual(refusal(sql), expected, sql.slice(0, 40));
});

test('masking keeps positions: literals become NUL, comments spaces', () => {
  const sql = "SELECT 'a;b', `c` -- x;\n/* y; */ FROM t";
  const masked = maskLiterals(sql);
  assert.equal(masked.length, sql.length);
  assert.equal(masked, 'SELECT \0\0\0\0\0, \0\0\0      \n         FROM t');
});
