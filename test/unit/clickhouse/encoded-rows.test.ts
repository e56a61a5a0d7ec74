import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EncodedRows, encodeInSlices, encodedRowsJson } from '../../../src/clickhouse/encoded-rows.ts';

test('rows are encoded and serialised as JSON lines, one chunk per slice, with the values kept for the insert token', async () => {
  const rows = [{ id: 1, name: 'a"b' }, { id: 2, name: 'é' }, { id: 3, name: '' }, { id: 4, name: 'x\ny' }, { id: 5, name: 'z' }];
  const { values, chunks } = await encodeInSlices(rows, (row) => [row.id, row.name], 2);
  assert.deepEqual(values, [[1, 'a"b'], [2, 'é'], [3, ''], [4, 'x\ny'], [5, 'z']]);
  assert.deepEqual(chunks.map((chunk) => chunk.text), ['[1,"a\\"b"]\n[2,"é"]', '[3,""]\n[4,"x\\ny"]', '[5,"z"]']);
  // What the client sends: each value through stringify, then a newline (its JSONEachRow family encoding).
  assert.equal(chunks.map((chunk) => `${encodedRowsJson.stringify(chunk)}\n`).join(''), '[1,"a\\"b"]\n[2,"é"]\n[3,""]\n[4,"x\\ny"]\n[5,"z"]\n');
  assert.equal(encodedRowsJson.stringify({ a: 1 }), '{"a":1}');
  assert.equal(encodedRowsJson.stringify(new EncodedRows('[1]')), '[1]');
});

test('the event loop runs between slices, not within one', async () => {
  const rows = Array.from({ length: 6 }, (_, i) => i);
  const order: string[] = [];
  setImmediate(() => order.push('immediate'));
  await encodeInSlices(rows, (row) => {
    order.push(`row ${row}`);
    return row;
  }, 3);
  assert.deepEqual(order, ['row 0', 'row 1', 'row 2', 'immediate', 'row 3', 'row 4', 'row 5']);
});

test('an encoding error propagates', async () => {
  await assert.rejects(encodeInSlices([1, 2], (row) => {
    if (row === 2) throw new Error('bad row');
    return row;
  }), /bad row/);
  await assert.rejects(encodeInSlices([1n], (row) => row), /BigInt/);
});
