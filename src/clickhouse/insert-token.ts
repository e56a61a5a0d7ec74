import { UsageError } from '../core/errors.ts';
import { createHash } from 'node:crypto';

/** The written columns that identify a row of a replacing table: the input of its insert token. */
export interface RowIdentity {
  /** The sorting key, then the version column: rows equal in these are one row after a merge. */
  columns: string[];
  /**
   * The Kafka provenance columns of a table with one row per Kafka record (raw events). A row
   * with an offset is identified by them alone, since its record fixes the rest of its key;
   * consecutive offsets fold into one range, which keeps the token cheap for the busiest
   * tables. Rows without an offset (derived records) are identified by `columns`.
   */
  source?: { topic: string; partition: string; offset: string };
}

/** Where a column's value sits in an encoded row: an index (JSONCompactEachRow) or a name. */
type Slot = number | string;
type EncodedRow = Record<Slot, unknown>;

interface Range {
  topic: unknown;
  partition: unknown;
  first: number;
  last: number;
}

/**
 * The `insert_deduplication_token` of an insert, from its encoded rows. Deterministic and
 * independent of row order, so the same rows give the same token in any process: a retried
 * insert that the server had already written (the answer was lost) is dropped by the server
 * instead of stored twice. Replays with other batch boundaries get other tokens; the table's
 * key collapses those on merge.
 */
export function insertTokenFunction(identity: RowIdentity, columns: string[], byIndex: boolean): (rows: readonly unknown[]) => string {
  const slot = (name: string): Slot => {
    const index = columns.indexOf(name);
    if (index < 0) throw new UsageError(`identity column "${name}" is not among the written columns`);
    return byIndex ? index : name;
  };
  const all = identity.columns.map(slot);
  const source = identity.source && { topic: slot(identity.source.topic), partition: slot(identity.source.partition), offset: slot(identity.source.offset) };
  return (rows) => {
    const ranges: Range[] = [];
    let range: Range | null = null;
    let derived = 0;
    let sumA = 0;
    let sumB = 0;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as EncodedRow;
      const offset = source ? offsetNumber(row[source.offset]) : -1;
      if (source && offset >= 0) {
        const topic = row[source.topic];
        const partition = row[source.partition];
        if (range !== null && offset === range.last + 1 && range.topic === topic && range.partition === partition) {
          range.last = offset;
          continue;
        }
        if (range !== null) ranges.push(range);
        range = { topic, partition, first: offset, last: offset };
        continue;
      }
      hashRow(row, all);
      derived++;
      // Summed, so the order of rows does not matter; fmix makes each row's term non-linear.
      sumA = (sumA + fmix(laneA)) | 0;
      sumB = (sumB + fmix(laneB ^ laneA)) | 0;
    }
    if (range !== null) ranges.push(range);
    const hash = createHash('sha256').update(canonicalRanges(ranges));
    hash.update(`\n#${rows.length}|${derived}|${sumA >>> 0}|${sumB >>> 0}`);
    return hash.digest('base64url');
  };
}

/** A Kafka offset as a safe integer, or -1 for derived rows ('' or -1) and unusable values. */
function offsetNumber(value: unknown): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : -1;
  if (typeof value !== 'string' || value.length === 0) return -1;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

/** The offsets as sorted, maximal ranges: the same text for the same offsets in any order. */
function canonicalRanges(ranges: Range[]): string {
  ranges.sort((a, b) => compare(a.topic, b.topic) || compare(a.partition, b.partition) || a.first - b.first);
  const merged: Range[] = [];
  for (const range of ranges) {
    const last = merged.at(-1);
    if (last !== undefined && range.first === last.last + 1 && last.topic === range.topic && last.partition === range.partition) last.last = range.last;
    else merged.push({ ...range });
  }
  return merged.map((r) => JSON.stringify([r.topic, r.partition, r.first, r.last])).join('\n');
}

function compare(a: unknown, b: unknown): number {
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

// Two 32-bit murmur3 lanes over a row's identity values: 64 bits per row, no strings built.
// Not cryptographic; tokens are compared only among a table's last 1000 inserts, where two
// different inserts collide with a chance of about 1000 in 2^64.
let laneA = 0;
let laneB = 0;
const float = new Float64Array(1);
const words = new Uint32Array(float.buffer);

function hashRow(row: EncodedRow, slots: Slot[]): void {
  laneA = 0x9747b28c;
  laneB = 0x2d358dcc;
  for (let i = 0; i < slots.length; i++) {
    const value = row[slots[i]!];
    if (typeof value === 'number') {
      float[0] = value;
      mixBoth(1, words[0]!);
      mixBoth(2, words[1]!);
    } else {
      const text = typeof value === 'string' ? value : JSON.stringify(value) ?? 'undefined';
      mixBoth(typeof value === 'string' ? 3 : 4, text.length);
      for (let c = 0; c < text.length; c += 2) mixBoth(5, text.charCodeAt(c) | (text.charCodeAt(c + 1) << 16));
    }
  }
}

function mixBoth(tag: number, word: number): void {
  laneA = mix(laneA, word ^ tag);
  laneB = mix(laneB, Math.imul(word, 0x5bd1e995) ^ (tag << 24));
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
