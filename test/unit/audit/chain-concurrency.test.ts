import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { verifyAuditFile } from '../../../src/audit/verify-log.ts';
import { AuditLog } from '../../../src/audit/audit-log.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

const CHILD = path.join(import.meta.dirname, 'append-child.ts');

function run(args: string[]): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
}

test('several processes appending to one file at once give one valid chain holding every entry once', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'audit-concurrent-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'audit.jsonl');
  const writers = ['w1', 'w2', 'w3', 'w4'];
  const perWriter = 60;
  const start = path.join(dir, 'start');
  const exits = Promise.all(writers.map((writer) => run([file, writer, String(perWriter), start])));
  // Every child has loaded and waits for the start file.
  const ready = async () => (await readdir(dir)).filter((name) => name.endsWith('.ready')).length === writers.length;
  while (!(await ready())) await new Promise((resolve) => setTimeout(resolve, 20));
  await writeFile(start, '');
  assert.deepEqual(await exits, [0, 0, 0, 0]);

  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  assert.equal(lines.length, writers.length * perWriter);
  const seen = lines.map((line) => JSON.parse(line) as { seq: number; principal: string; details: { i: number } });
  assert.deepEqual(seen.map((entry) => entry.seq), Array.from({ length: lines.length }, (_, i) => i + 1));
  for (const writer of writers) {
    // Each writer's entries are all there, in the order it recorded them.
    assert.deepEqual(seen.filter((entry) => entry.principal === writer).map((entry) => entry.details.i), Array.from({ length: perWriter }, (_, i) => i), writer);
  }
  // The writers really interleaved: the file is not four runs of one writer each.
  const switches = seen.filter((entry, i) => i > 0 && entry.principal !== seen[i - 1]!.principal).length;
  assert.ok(switches > writers.length, `only ${switches} switches between writers`);
  const result = await verifyAuditFile(file);
  assert.equal(result.ok, true, result.ok ? '' : result.problem.message);
});

test('a lock left by a process that died is broken, and appends go on', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'audit-stale-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'audit.jsonl');
  // A pid that existed and is gone: a child that has exited.
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.once('exit', resolve));
  const hostname = (await import('node:os')).hostname();
  await writeFile(`${file}.lock`, `${child.pid}\n${hostname}\n${Date.now()}\nabc\n`);
  const log = new AuditLog({ file, logger: silentLogger });
  await log.record({ action: 'engine.start', principal: 'cli:ana', outcome: 'ok' });
  await log.close();
  assert.equal((await readFile(file, 'utf8')).split('\n').length, 2);
  await assert.rejects(readFile(`${file}.lock`), { code: 'ENOENT' });
});

test('a lock held by a live process is waited for, not broken', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'audit-held-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'audit.jsonl');
  const hostname = (await import('node:os')).hostname();
  await writeFile(`${file}.lock`, `${process.pid}\n${hostname}\n${Date.now()}\nheld-by-test\n`);
  const log = new AuditLog({ file, logger: silentLogger, timeoutMs: 1_500 });
  await assert.rejects(log.record({ action: 'engine.start', principal: 'cli:ana', outcome: 'ok' }), (error: Error) => error.message.includes(`pid ${process.pid}`) && error.message.includes('Fix: '));
  assert.equal(await readFile(`${file}.lock`, 'utf8'), `${process.pid}\n${hostname}\n${(await readFile(`${file}.lock`, 'utf8')).split('\n')[2]}\nheld-by-test\n`);
  await rm(`${file}.lock`);
  await log.record({ action: 'engine.start', principal: 'cli:ana', outcome: 'ok' });
  await log.close();
  assert.equal((await readFile(file, 'utf8')).split('\n').length, 2);
});
