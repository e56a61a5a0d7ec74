import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtoReader, ProtoWriter, WireType } from '../../../src/scoring/onnx-protobuf.ts';

test('varints follow the protobuf encoding, including 64-bit and negative values', () => {
  assert.deepEqual([...new ProtoWriter().varint(1, 1).finish()], [0x08, 0x01]);
  assert.deepEqual([...new ProtoWriter().varint(1, 300).finish()], [0x08, 0xac, 0x02]);
  assert.deepEqual([...new ProtoWriter().varint(2, 2 ** 35).finish()], [0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
  assert.deepEqual([...new ProtoWriter().varint(1, -1).finish()], [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.deepEqual([...new ProtoWriter().varint(1, -1n).finish()], [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
});

test('strings, nested messages and fixed-width numbers round-trip through the reader', () => {
  const bytes = new ProtoWriter()
    .string(2, 'héllo')
    .message(7, (inner) => inner.varint(1, 123_456_789_012).string(2, ''))
    .float(3, 1.5)
    .double(4, -2.25)
    .varint(5, true)
    .finish();
  const reader = new ProtoReader(bytes);
  assert.deepEqual(reader.tag(), { field: 2, wireType: WireType.LengthDelimited });
  assert.equal(reader.string(), 'héllo');
  assert.deepEqual(reader.tag(), { field: 7, wireType: WireType.LengthDelimited });
  const inner = new ProtoReader(reader.lengthDelimited());
  assert.deepEqual(inner.tag(), { field: 1, wireType: WireType.Varint });
  assert.equal(inner.varint(), 123_456_789_012);
  assert.deepEqual(inner.tag(), { field: 2, wireType: WireType.LengthDelimited });
  assert.equal(inner.string(), '');
  assert.equal(inner.done, true);
  assert.deepEqual(reader.tag(), { field: 3, wireType: WireType.Fixed32 });
  reader.skip(WireType.Fixed32);
  assert.deepEqual(reader.tag(), { field: 4, wireType: WireType.Fixed64 });
  reader.skip(WireType.Fixed64);
  assert.deepEqual(reader.tag(), { field: 5, wireType: WireType.Varint });
  assert.equal(reader.varint(), 1);
  assert.equal(reader.done, true);
});

test('the reader rejects truncated input instead of reading past the end', () => {
  const bytes = new ProtoWriter().string(1, 'abcdef').finish();
  const truncated = new ProtoReader(bytes.subarray(0, 4));
  truncated.tag();
  // Malformed input is a DecodeError (ONNX_FILE), not a programmer error: RangeError stays for wrong arguments.
  assert.throws(() => truncated.lengthDelimited(), { name: 'DecodeError', code: 'ONNX_FILE', retriable: false });
  assert.throws(() => new ProtoReader(new Uint8Array([0x80])).varint(), { name: 'DecodeError', code: 'ONNX_FILE' });
});
