import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeChunk } from '../../../src/sources/kafka/decode-chunk.ts';
import { createDecoder } from '../../../src/serde/create-decoder.ts';

type Event = { ts: number };
const decoder = createDecoder<Event>({ format: "json" });

/** Messages whose values are views into one shared buffer, as kafkajs hands them over. */
function fetched(values: string[]) {
  const text = values.join('');
  const response = Buffer.alloc(text.length); // not from Node's shared pool, as a socket read
  response.write(text);
  let at = 0;
  return values.map((text, i) => {
    const value = response.subarray(at, at + text.length);
    at += text.length;
    return { offset: String(i), key: null, value, timestamp: '0' };
  });
}

test('a chunk ends at the record bound or once it holds the byte bound, never empty', () => {
  const messages = fetched(['{"ts":1}', '{"ts":2}', '{"ts":3}', '{"ts":4}']); // 8 bytes each
  const byRecords = decodeChunk(messages, 0, { maxRecords: 3, maxBytes: Infinity }, decoder, (e) => e.ts, 't', 0);
  assert.deepEqual([byRecords.end, byRecords.bytes, byRecords.records.length, byRecords.maxEventTime], [3, 24, 3, 3]);
  const byBytes = decodeChunk(messages, 1, { maxRecords: 10, maxBytes: 16 }, decoder, (e) => e.ts, 't', 0);
  assert.deepEqual([byBytes.end, byBytes.bytes], [3, 16]);
  assert.deepEqual(byBytes.records.map((r) => r.offset), ['1', '2']);
  const oneLarge = decodeChunk(messages, 3, { maxRecords: 10, maxBytes: 1 }, decoder, (e) => e.ts, 't', 0);
  assert.deepEqual([oneLarge.end, oneLarge.records.length], [4, 1]);
});

test("a dead letter keeps a copy of its bytes, not a view holding the whole fetch response", () => {
  const messages = fetched(['{"ts":1}', 'not json', '{"ts":3}']);
  const chunk = decodeChunk(messages, 0, { maxRecords: 10, maxBytes: Infinity }, decoder, (e) => e.ts, 't', 2);
  assert.equal(chunk.records.length, 2);
  assert.equal(chunk.deadLetters.length, 1);
  const raw = chunk.deadLetters[0]!.raw as Buffer;
  assert.equal(raw.toString(), 'not json');
  assert.notEqual(raw.buffer, messages[1]!.value.buffer);
  assert.deepEqual({ ...chunk.deadLetters[0], raw: null }, { step: 'decode', topic: 't', partition: 2, offset: '1', error: chunk.deadLetters[0]!.error, raw: null, timestamp: 0 });
});
