import { canonicalJson } from './canonical-json.ts';
import { GENESIS, entryHash, type AuditEntry } from './audit-entry.ts';

/** What is wrong with the first entry that does not match. */
export type ChainProblemKind = 'edited' | 'deleted' | 'reordered' | 'rewritten';

export interface ChainProblem {
  kind: ChainProblemKind;
  /** 1-based line of the file (or row of the table, in seq order). */
  line: number;
  /** The entry's seq as written, when the line could be read. */
  seq?: number;
  message: string;
}

export type ChainResult =
  | { ok: true; entries: number; lastSeq: number; lastHash: string }
  | { ok: false; entries: number; problem: ChainProblem };

interface Parsed {
  entry?: AuditEntry;
  /** Why the line is not a well-formed entry (edited). */
  damage?: string;
}

/**
 * Recomputes the chain over the lines of an audit log (audit-entry.ts) and names the first entry
 * that does not match:
 * - edited: not JSON, not in canonical form, or its hash is not the hash of its contents;
 * - deleted: its seq skips numbers that appear nowhere later (entries removed before it);
 * - reordered: its seq is not the next one, and the next one comes later (or came earlier);
 * - rewritten: seq is right but prev is not the hash of the entry before it (that entry was
 *   replaced by one with a recomputed hash, or the entries were spliced from another log).
 */
export function verifyChain(lines: readonly string[]): ChainResult {
  let previous: { seq: number; hash: string } = { seq: 0, hash: GENESIS };
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    const { entry, damage } = parseEntry(lines[index]!);
    if (entry === undefined) return failed(index, { kind: 'edited', line, message: `line ${line} (after seq ${previous.seq}) ${damage}: the entry was edited` });
    const seq = entry.seq;
    if (damage !== undefined) return failed(index, { kind: 'edited', line, seq, message: `entry seq ${seq} (line ${line}) ${damage}: the entry was edited` });
    const expected = previous.seq + 1;
    if (seq !== expected) return failed(index, orderProblem(lines, index, seq, expected));
    if (entry.prev !== previous.hash) {
      return failed(index, {
        kind: 'rewritten',
        line,
        seq,
        message: `entry seq ${seq} (line ${line}): prev ${entry.prev.slice(0, 12)}… is not the hash of entry seq ${previous.seq} (${previous.hash.slice(0, 12)}…): entry seq ${previous.seq} was replaced with a recomputed hash, or the log was spliced`,
      });
    }
    previous = { seq, hash: entry.hash };
  }
  return { ok: true, entries: lines.length, lastSeq: previous.seq, lastHash: previous.hash };
}

function failed(index: number, problem: ChainProblem): ChainResult {
  return { ok: false, entries: index, problem };
}

function parseEntry(line: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { damage: 'is not valid JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { damage: 'is not a JSON object' };
  const entry = value as AuditEntry;
  if (!Number.isSafeInteger(entry.seq) || entry.seq < 1) return { damage: 'has no valid seq' };
  if (typeof entry.hash !== 'string' || typeof entry.prev !== 'string') return { entry, damage: 'has no hash or prev' };
  let canonical: string;
  try {
    canonical = canonicalJson(entry);
  } catch {
    return { entry, damage: 'holds a value canonical JSON cannot hold' };
  }
  if (canonical !== line) return { entry, damage: 'is not in canonical form (bytes changed outside the values)' };
  const { hash, ...body } = entry;
  const computed = entryHash(body);
  if (computed !== hash) return { entry, damage: `hashes to ${computed.slice(0, 12)}…, not its recorded ${hash.slice(0, 12)}…` };
  return { entry };
}

/** Deleted or reordered: where does the expected seq appear? */
function orderProblem(lines: readonly string[], index: number, seq: number, expected: number): ChainProblem {
  const line = index + 1;
  const seqAt = (i: number) => {
    try {
      const value = JSON.parse(lines[i]!) as { seq?: unknown };
      return typeof value.seq === 'number' ? value.seq : undefined;
    } catch {
      return undefined;
    }
  };
  for (let later = index + 1; later < lines.length; later++) {
    if (seqAt(later) === expected) {
      return { kind: 'reordered', line, seq, message: `entry seq ${seq} (line ${line}) comes before entry seq ${expected} (line ${later + 1}): entries were reordered` };
    }
  }
  if (seq < expected) return { kind: 'reordered', line, seq, message: `entry seq ${seq} (line ${line}) comes after entry seq ${expected - 1}: entries were reordered or copied` };
  const missing = seq - expected === 1 ? `entry seq ${expected} is` : `entries seq ${expected} to ${seq - 1} are`;
  return { kind: 'deleted', line, seq, message: `entry seq ${seq} (line ${line}) follows entry seq ${expected - 1}: ${missing} missing (deleted)` };
}
