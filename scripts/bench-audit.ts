/**
 * Audit log append cost on this machine: records awaited one at a time (one lock and one fsync
 * each), and records issued together (appended in shared batches: one lock and fsync per batch).
 * Usage: node --import tsx scripts/bench-audit.ts [entries]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditLog } from '../src/audit/audit-log.ts';
import { verifyAuditFile } from '../src/audit/verify-log.ts';
import { silentLogger } from '../src/observability/logger.ts';

const entries = Number(process.argv[2] ?? 2_000);
const dir = await mkdtemp(path.join(tmpdir(), 'bench-audit-'));
try {
  const file = path.join(dir, 'audit.jsonl');
  const log = new AuditLog({ file, logger: silentLogger });
  const event = (i: number) => ({ action: 'sql.query', principal: 'analyst-1', role: 'analyst', outcome: 'ok' as const, details: { query: `SELECT count() FROM payments WHERE cardId = 'card-${i}'`, rows: 1 } });
  let started = performance.now();
  for (let i = 0; i < entries; i++) await log.record(event(i));
  const sequential = performance.now() - started;
  started = performance.now();
  await Promise.all(Array.from({ length: entries }, (_, i) => log.record(event(i))));
  const together = performance.now() - started;
  await log.close();
  started = performance.now();
  const verified = await verifyAuditFile(file);
  const verify = performance.now() - started;
  process.stdout.write(
    `awaited one at a time: ${entries} entries in ${sequential.toFixed(0)} ms (${((sequential / entries) * 1000).toFixed(0)} us each, ${Math.round(entries / (sequential / 1000))}/s)\n` +
      `issued together:       ${entries} entries in ${together.toFixed(0)} ms (${Math.round(entries / (together / 1000))}/s)\n` +
      `verify:                ${verified.entries} entries in ${verify.toFixed(0)} ms (${verified.ok ? 'intact' : 'NOT intact'})\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
