import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/core/errors.ts';
import { EncodeError } from '../../../src/serde/encode-error.ts';
import { createJsonDecoder, createJsonEncoder } from '../../../src/serde/json.ts';

const decoder = createJsonDecoder();
const encoder = createJsonEncoder();

function failure(text: string): { code: string; message: string } {
  try {
    decoder.decode(Buffer.from(text, 'utf8'));
  } catch (error) {
    assert.ok(error instanceof DecodeError, `expected DecodeError, got ${String(error)}`);
    return { code: error.code, message: error.message };
  }
  assert.fail(`decoded ${text}`);
}

test('decodes a UTF-8 JSON object', () => {
  assert.equal(decoder.format, 'json');
  assert.deepEqual(decoder.decode(Buffer.from('{"cardId":"c-ü","amount":12.5,"tags":["a"],"meta":null}')), {
    cardId: 'c-ü',
    amount: 12.5,
    tags: ['a'],
    meta: null,
  });
});

test('round-trips through the encoder', () => {
  const value = { a: 1, b: 'two', c: [true, null], d: { e: -0.5 } };
  const bytes = encoder.encode(value);
  assert.equal(bytes.toString('utf8'), '{"a":1,"b":"two","c":[true,null],"d":{"e":-0.5}}');
  assert.deepEqual(decoder.decode(bytes), value);
});

test('empty, malformed and non-object payloads are DecodeErrors', () => {
  assert.deepEqual(failure(''), { code: 'EMPTY', message: 'json: empty payload' });
  assert.equal(failure('{"a":').code, 'MALFORMED');
  assert.equal(failure('{"a":1} x').code, 'MALFORMED');
  assert.deepEqual(failure('[1,2]'), { code: 'MALFORMED', message: 'json: expected an object at the top level, got an array' });
  assert.deepEqual(failure('null'), { code: 'MALFORMED', message: 'json: expected an object at the top level, got null' });
  assert.deepEqual(failure('"text"'), { code: 'MALFORMED', message: 'json: expected an object at the top level, got a string' });
  assert.deepEqual(failure('42'), { code: 'MALFORMED', message: 'json: expected an object at the top level, got a number' });
});

test('a "__proto__" key stays an own property and does not change the prototype', () => {
  const decoded = decoder.decode(Buffer.from('{"__proto__":{"polluted":true}}')) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
  assert.deepEqual(Object.keys(decoded), ['__proto__']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('values JSON cannot hold are EncodeErrors', () => {
  assert.throws(() => encoder.encode({ n: 1n }), (error: EncodeError) => error instanceof EncodeError && error.code === 'ENCODE');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => encoder.encode(cyclic), EncodeError);
  assert.throws(() => encoder.encode([1] as never), (error: EncodeError) => error.message === 'json: expected an object, got an array');
});
