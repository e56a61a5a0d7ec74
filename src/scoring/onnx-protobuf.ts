import { DecodeError } from '../core/errors.ts';
/**
 * The few protobuf wire-format pieces needed to write and inspect ONNX files without a schema
 * compiler: varints, length-delimited fields and little-endian fixed-width numbers.
 * https://protobuf.dev/programming-guides/encoding/
 */

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Appends protobuf fields to a growing byte buffer; nested messages are written by a child writer. */
export class ProtoWriter {
  private buffer = new Uint8Array(256);
  private length = 0;

  /** An unsigned or signed integer field (int32, int64, enum, bool). Negative values take ten bytes, as protobuf requires. */
  varint(field: number, value: number | bigint | boolean): this {
    this.tag(field, WireType.Varint);
    this.rawVarint(typeof value === 'boolean' ? (value ? 1 : 0) : value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WireType.LengthDelimited);
    this.rawVarint(value.length);
    this.append(value);
    return this;
  }

  /** A nested message: `build` writes its fields, which are then prefixed with their length. */
  message(field: number, build: (writer: ProtoWriter) => void): this {
    const child = new ProtoWriter();
    build(child);
    return this.bytes(field, child.finish());
  }

  float(field: number, value: number): this {
    this.tag(field, WireType.Fixed32);
    this.ensure(4);
    new DataView(this.buffer.buffer).setFloat32(this.length, value, true);
    this.length += 4;
    return this;
  }

  double(field: number, value: number): this {
    this.tag(field, WireType.Fixed64);
    this.ensure(8);
    new DataView(this.buffer.buffer).setFloat64(this.length, value, true);
    this.length += 8;
    return this;
  }

  /** The bytes written so far (a copy, so the writer can be reused or dropped). */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private tag(field: number, wireType: WireType): void {
    if (!Number.isInteger(field) || field < 1 || field > 536_870_911) throw new RangeError(`invalid protobuf field number ${field}`);
    this.rawVarint(field * 8 + wireType);
  }

  private rawVarint(value: number | bigint): void {
    let rest = typeof value === 'bigint' ? BigInt.asUintN(64, value) : value;
    if (typeof rest === 'number') {
      if (!Number.isSafeInteger(rest)) throw new RangeError(`varint ${rest} is not a safe integer`);
      if (rest < 0) rest = BigInt.asUintN(64, BigInt(rest));
    }
    this.ensure(10);
    if (typeof rest === 'number') {
      // Division instead of bit shifts: shifts truncate to 32 bits.
      while (rest >= 0x80) {
        this.buffer[this.length++] = (rest % 0x80) | 0x80;
        rest = Math.floor(rest / 0x80);
      }
      this.buffer[this.length++] = rest;
      return;
    }
    while (rest >= 0x80n) {
      this.buffer[this.length++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.buffer[this.length++] = Number(rest);
  }

  private append(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}

/** Reads protobuf fields one at a time; unknown fields are skipped by the caller with `skip`. */
export class ProtoReader {
  private position = 0;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  get done(): boolean {
    return this.position >= this.bytes.length;
  }

  tag(): { field: number; wireType: WireType } {
    const key = this.varint();
    return { field: Math.floor(key / 8), wireType: (key % 8) as WireType };
  }

  /** A varint as a number; values above 2^53 lose precision (ONNX metadata never needs them). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw new DecodeError(`protobuf varint longer than 10 bytes at byte ${this.position}`, { code: 'ONNX_FILE' });
  }

  lengthDelimited(): Uint8Array {
    const length = this.varint();
    if (length > this.bytes.length - this.position) throw new DecodeError(`protobuf field of ${length} bytes runs past the end at byte ${this.position}`, { code: 'ONNX_FILE' });
    const value = this.bytes.subarray(this.position, this.position + length);
    this.position += length;
    return value;
  }

  string(): string {
    return textDecoder.decode(this.lengthDelimited());
  }

  skip(wireType: WireType): void {
    switch (wireType) {
      case WireType.Varint:
        this.varint();
        return;
      case WireType.Fixed64:
        this.advance(8);
        return;
      case WireType.LengthDelimited:
        this.lengthDelimited();
        return;
      case WireType.Fixed32:
        this.advance(4);
        return;
      default:
        throw new DecodeError(`unsupported protobuf wire type ${wireType as number} at byte ${this.position}`, { code: 'ONNX_FILE' });
    }
  }

  private byte(): number {
    if (this.position >= this.bytes.length) throw new DecodeError('protobuf message ends inside a varint', { code: 'ONNX_FILE' });
    return this.bytes[this.position++]!;
  }

  private advance(count: number): void {
    if (count > this.bytes.length - this.position) throw new DecodeError(`protobuf message ends inside a fixed-width field at byte ${this.position}`, { code: 'ONNX_FILE' });
    this.position += count;
  }
}
