import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { AuditTable, readAuditTable } from '../../src/audit/audit-table.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { clickhouseTargets } from '../helpers/clickhouse-targets.ts';
import { uniqueName } from '../helpers/services.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const target of clickhouseTargets()) {
  test(`${target.label}: the table receives every entry, whenever it was recorded, as the file's lines`, { timeout: 60_000 }, async (t) => {
    const client = await target.connect();
    const dir = await mkdtemp(path.join(tmpdir(), 'audit-table-'));
    t.after(async () => {
      await client.close();
      await rm(dir, { recursive: true, force: true });
      await target.cleanup?.();
    });
    const file = path.join(dir, 'audit.jsonl');
    const table = uniqueName('audit_table');
    const metrics = new Metrics();
    const log = new AuditLog({ file, logger: silentLogger, metrics, mirror: new AuditTable({ table, file, client: async () => client, logger: silentLogger, metrics, flushIntervalMs: 100 }) });
    // Entries before, between and after flushes with nothing to insert.
    await log.record({ action: 'test.first', principal: 'p', outcome: 'ok' });
    await sleep(350);
    for (let i = 0; i < 5; i++) await log.record({ action: 'test.burst', principal: 'p', outcome: 'ok', details: { i } });
    await sleep(350);
    await log.record({ action: 'test.last', principal: 'p', outcome: 'refused', reason: 'why' });
    await log.close();
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    const rows = await readAuditTable(client, table, file);
    assert.deepEqual(rows, lines.map((entry, i) => ({ seq: i + 1, entry })));
    assert.equal((await metrics.auditTableRows.get()).values[0]?.value, 7);
  });
}

test('a table that cannot be written is logged and counted; the file still gets every entry and record() resolves', { timeout: 60_000 }, async (t) => {
  const [server] = clickhouseTargets();
  const client = await server!.connect();
  const dir = await mkdtemp(path.join(tmpdir(), 'audit-table-down-'));
  t.after(async () => {
    await client.close();
    await rm(dir, { recursive: true, force: true });
  });
  const file = path.join(dir, 'audit.jsonl');
  const metrics = new Metrics();
  // A database that does not exist: CREATE TABLE fails, every insert attempt fails.
  const mirror = new AuditTable({ table: `${uniqueName('nodb')}.audit_log`, file, client: async () => client, logger: silentLogger, metrics, flushIntervalMs: 100 });
  const log = new AuditLog({ file, logger: silentLogger, metrics, mirror });
  for (let i = 0; i < 3; i++) await log.record({ action: 'test.entry', principal: 'p', outcome: 'ok' });
  await sleep(400);
  await log.close();
  assert.equal((await readFile(file, 'utf8')).trimEnd().split('\n').length, 3);
  const failures = (await metrics.auditTableFailures.get()).values[0]?.value ?? 0;
  assert.ok(failures >= 2, `${failures} failures counted`);
  assert.equal((await metrics.auditTableRows.get()).values[0]?.value ?? 0, 0);
});
