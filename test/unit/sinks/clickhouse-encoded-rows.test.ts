import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeInSlices, encodedRowsJson, EncodedRows } from '../../../src/clickhouse/encoded-rows.ts';

test('rows are serialised as JSON lines a slice at a time, with a turn between slices and none within', async () => {
  const rows = Array.from({ length: 7 }, (_, i) => ({ n: i, text: i === 4 ? 'a "quoted"\nline' : `r${i}` }));
  const events: string[] = [];
  const { values, chunks } = await encodeInSlices(rows, (row) => (events.push(`encode ${row.n}`), [row.n, row.text]), async () => void events.push('turn'), 3);
  assert.deepEqual(events, ['encode 0', 'encode 1', 'encode 2', 'turn', 'encode 3', 'encode 4', 'encode 5', 'turn', 'encode 6']);
  assert.deepEqual(values, rows.map((row) => [row.n, row.text]));
  // What the client sends: each chunk through its json.stringify, then a newline.
  const body = chunks.map((chunk) => `${encodedRowsJson.stringify(chunk)}\n`).join('');
  assert.equal(body, '[0,"r0"]\n[1,"r1"]\n[2,"r2"]\n[3,"r3"]\n[4,"a \\"quoted\\"\\nline"]\n[5,"r5"]\n[6,"r6"]\n');
  assert.ok(chunks.every((chunk) => chunk instanceof EncodedRows));
});

test('the json option leaves every other value to JSON.stringify', () => {
  assert.equal(encodedRowsJson.stringify({ a: [1, 'x'] }), '{"a":[1,"x"]}');
});

test('an encoding error in a later slice rejects, after the turns before it', async () => {
  let turns = 0;
  const failing = encodeInSlices([1, 2, 3, 4], (n) => {
    if (n === 4) throw new Error('row 4 cannot be encoded');
    return n;
  }, async () => void turns++, 2);
  await assert.rejects(failing, /row 4 cannot be encoded/);
  assert.equal(turns, 1);
});
