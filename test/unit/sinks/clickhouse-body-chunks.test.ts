import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyChunks } from '../../../src/sinks/clickhouse/clickhouse-sink.ts';

/** What @clickhouse/client's insert sends for an array of rows: each row's JSON and a newline. */
function clientBody(rows: unknown[]): string {
  let body = '';
  for (const row of rows) body += `${JSON.stringify(row)}\n`;
  return body;
}

test('the chunks of an insert body join to exactly what the client would send, each ending on a row', () => {
  const rows = Array.from({ length: 5_000 }, (_, i) => [`p-${i}`, `card-${i % 97}`, i * 0.25, i % 3 === 0 ? null : 'DE', 'ü€😀'.repeat(i % 4)]);
  const chunks = bodyChunks(rows).map((chunk) => chunk.toString('utf8'));
  assert.equal(chunks.join(''), clientBody(rows));
  assert.ok(chunks.length > 5, `${chunks.length} chunks`);
  for (const chunk of chunks) {
    assert.ok(chunk.endsWith('\n'));
    // At most 32 Ki characters plus the one row that crossed the mark.
    assert.ok(chunk.length < 32 * 1024 + 200, `a chunk of ${chunk.length} characters`);
  }
  // Every row is whole in one chunk: parsing each chunk's lines gives the rows back in order.
  assert.deepEqual(chunks.flatMap((chunk) => chunk.slice(0, -1).split('\n').map((line) => JSON.parse(line) as unknown)), rows);
});

test('one row, and objects with undefined fields, encode as the client would', () => {
  assert.deepEqual(bodyChunks([{ a: 1, b: undefined, c: 'x' }]), [Buffer.from('{"a":1,"c":"x"}\n')]);
  const wide = [{ text: 'x'.repeat(100_000) }];
  assert.deepEqual(bodyChunks(wide), [Buffer.from(clientBody(wide))]);
});
