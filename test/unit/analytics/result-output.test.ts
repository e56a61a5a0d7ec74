import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJsonResult, renderJsonRows, renderTable } from '../../../src/analytics/result-output.ts';

const result = {
  meta: [{ name: 'merchantId', type: 'String' }, { name: 'payments', type: 'UInt64' }, { name: 'amount', type: 'Nullable(Float64)' }],
  data: [{ merchantId: 'm-1', payments: '1234', amount: 10.5 }, { merchantId: 'merchant-22', payments: '7', amount: null }],
};

test('table: aligned columns, numbers right-aligned, NULL, a row count', () => {
  assert.equal(
    renderTable(result),
    ['merchantId   payments  amount', '-----------  --------  ------', 'm-1              1234    10.5', 'merchant-22         7    NULL', '(2 rows)', ''].join('\n'),
  );
  assert.equal(renderTable({ meta: [{ name: 'x', type: 'String' }], data: [{ x: 'a\nb\tc' }] }), 'x\n-------\na\\nb\\tc\n(1 row)\n');
  assert.equal(renderTable({ meta: [{ name: 'n', type: 'UInt8' }], data: [] }), 'n\n-\n(0 rows)\n');
});

test('json: one object per line; quoted 64-bit integers become numbers where exact', () => {
  assert.equal(renderJsonRows(result), '[\n{"merchantId":"m-1","payments":1234,"amount":10.5},\n{"merchantId":"merchant-22","payments":7,"amount":null}\n]\n');
  const big = { meta: [{ name: 'n', type: 'UInt64' }], data: [{ n: '18446744073709551615' }] };
  assert.equal(renderJsonRows(big), '[\n{"n":"18446744073709551615"}\n]\n');
  assert.equal(renderJsonRows({ meta: [], data: [] }), '[]\n');
});

test('parseJsonResult reads ClickHouse JSON and rejects anything else', () => {
  assert.deepEqual(parseJsonResult(JSON.stringify({ ...result, rows: 2, statistics: {} })), result);
  assert.throws(() => parseJsonResult('1,2\n'), /not ClickHouse JSON/);
});
