import { randomBytes } from 'node:crypto';

/**
 * Uniform integers from the operating system's CSPRNG (crypto.randomBytes), exactly: rejection
 * sampling, never a modulo or a float. Bytes are drawn 64 KiB at a time, so a million noise draws
 * do not make millions of system calls.
 */
export interface UniformSource {
  /** A uniform integer in [0, n), n a positive safe integer. */
  below(n: number): number;
  /** A uniform integer in [0, n), n a positive bigint of any size. */
  belowBig(n: bigint): bigint;
}

const POOL_BYTES = 64 * 1024;
const TWO_32 = 0x1_0000_0000;
const TWO_53 = 2 ** 53;

export class SecureUniform implements UniformSource {
  private pool: Buffer = Buffer.alloc(0);
  private offset = 0;

  below(n: number): number {
    if (n === 1) return 0;
    if (n <= TWO_32) {
      // Accept words under the largest multiple of n: each residue then has the same count.
      const limit = TWO_32 - (TWO_32 % n);
      for (;;) {
        const word = this.word32();
        if (word < limit) return word % n;
      }
    }
    const limit = TWO_53 - (TWO_53 % n);
    for (;;) {
      // 53 random bits: exact in a double.
      const value = (this.word32() & 0x1f_ffff) * TWO_32 + this.word32();
      if (value < limit) return value % n;
    }
  }

  belowBig(n: bigint): bigint {
    if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return BigInt(this.below(Number(n)));
    const bits = n.toString(2).length;
    const words = Math.ceil(bits / 32);
    const mask = (1n << BigInt(bits)) - 1n;
    for (;;) {
      let value = 0n;
      for (let i = 0; i < words; i++) value = (value << 32n) | BigInt(this.word32());
      value &= mask; // below 2^bits < 2n: at least half the draws are accepted
      if (value < n) return value;
    }
  }

  private word32(): number {
    if (this.offset + 4 > this.pool.length) {
      this.pool = randomBytes(POOL_BYTES);
      this.offset = 0;
    }
    const word = this.pool.readUInt32LE(this.offset);
    this.offset += 4;
    return word;
  }
}
