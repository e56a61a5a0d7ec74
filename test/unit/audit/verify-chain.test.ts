import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditLog } from '../../../src/audit/audit-log.ts';
import { verifyChain } from '../../../src/audit/verify-chain.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

/** Six real entries, written by the audit log itself. */
async function sixEntries(): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'audit-verify-'));
  try {
    const file = path.join(dir, 'audit.jsonl');
    const log = new AuditLog({ file, logger: silentLogger });
    for (let i = 1; i <= 6; i++) await log.record({ action: 'model.promote', principal: `cli:user${i}`, target: `fraud-lr@v${i}`, outcome: 'ok', details: { n: i } });
    await log.close();
    return (await readFile(file, 'utf8')).trimEnd().split('\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('an untouched log verifies: entry count, last seq and the last hash', async () => {
  const lines = await sixEntries();
  const last = JSON.parse(lines[5]!) as { hash: string };
  assert.deepEqual(verifyChain(lines), { ok: true, entries: 6, lastSeq: 6, lastHash: last.hash });
  assert.deepEqual(verifyChain([]), { ok: true, entries: 0, lastSeq: 0, lastHash: '0'.repeat(64) });
});

test('one byte edited anywhere in an entry is found and that entry named', async () => {
  const lines = await sixEntries();
  // Every byte position of entry 3, each replaced by another byte: always caught, always at seq 3.
  const original = lines[2]!;
  for (let at = 0; at < original.length; at++) {
    const replacement = original[at] === 'a' ? 'b' : 'a';
    const edited = [...lines];
    edited[2] = original.slice(0, at) + replacement + original.slice(at + 1);
    const result = verifyChain(edited);
    assert.equal(result.ok, false, `byte ${at}`);
    if (result.ok) continue;
    assert.equal(result.problem.line, 3, `byte ${at}: ${result.problem.message}`);
    assert.equal(result.problem.kind, 'edited', `byte ${at}`);
    assert.equal(result.entries, 2);
  }
  const edited = [...lines];
  edited[2] = edited[2]!.replace('cli:user3', 'cli:user9');
  const result = verifyChain(edited);
  assert.ok(!result.ok);
  assert.match(result.problem.message, /^entry seq 3 \(line 3\) hashes to [0-9a-f]{12}…, not its recorded [0-9a-f]{12}…: the entry was edited$/);
});

test('one entry deleted: the entry after the gap is named, and the missing seq', async () => {
  const lines = await sixEntries();
  const result = verifyChain([...lines.slice(0, 3), ...lines.slice(4)]);
  assert.deepEqual(result, { ok: false, entries: 3, problem: { kind: 'deleted', line: 4, seq: 5, message: 'entry seq 5 (line 4) follows entry seq 3: entry seq 4 is missing (deleted)' } });
});

test('two entries reordered: the first one out of place is named', async () => {
  const lines = await sixEntries();
  const swapped = [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)];
  assert.deepEqual(verifyChain(swapped), { ok: false, entries: 1, problem: { kind: 'reordered', line: 2, seq: 3, message: 'entry seq 3 (line 2) comes before entry seq 2 (line 3): entries were reordered' } });
  const farApart = [lines[0]!, lines[4]!, lines[2]!, lines[3]!, lines[1]!, lines[5]!];
  const result = verifyChain(farApart);
  assert.ok(!result.ok);
  assert.deepEqual([result.problem.kind, result.problem.line, result.problem.seq], ['reordered', 2, 5]);
});

test('an entry rewritten with a recomputed hash is caught at the next entry, which names it', async () => {
  const lines = await sixEntries();
  const entry = JSON.parse(lines[3]!) as Record<string, unknown>;
  entry.principal = 'cli:someone-else';
  delete entry.hash;
  // The forger's own canonical form and hash, computed here without the code under test.
  const sorted = (value: Record<string, unknown>) => JSON.stringify(Object.fromEntries(Object.keys(value).sort().map((key) => [key, value[key]])));
  const details = entry.details as Record<string, unknown>;
  const body = sorted({ ...entry, details: JSON.parse(sorted(details)) as unknown });
  const hash = createHash('sha256').update(body).digest('hex');
  const forged = sorted({ ...entry, details: JSON.parse(sorted(details)) as unknown, hash });
  const result = verifyChain([...lines.slice(0, 3), forged, ...lines.slice(4)]);
  assert.ok(!result.ok);
  assert.deepEqual([result.problem.kind, result.problem.line, result.problem.seq], ['rewritten', 5, 5]);
  assert.match(result.problem.message, /is not the hash of entry seq 4 .*: entry seq 4 was replaced with a recomputed hash/);
});
