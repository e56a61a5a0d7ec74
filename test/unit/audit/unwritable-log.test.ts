import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withCliAudit } from '../../../src/cli/cli-audit.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { Engine } from '../../../src/runtime/engine.ts';
import { generatorSource } from '../../../src/sources/generator/generator-source.ts';
import { defineTopology } from '../../../src/topology/define-topology.ts';
import { loadConfig } from '../../../src/topology/config.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

/** An audit log path that cannot be created, even by root: its parent is a regular file. */
async function unwritable(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'audit-unwritable-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'not-a-directory'), '');
  return path.join(dir, 'not-a-directory', 'audit.jsonl');
}

test('a CLI command whose change cannot be audited does not run', async (t) => {
  const config = loadConfig({ TRIBUTARY_AUDIT_LOG: await unwritable(t), TRIBUTARY_AUDIT_TABLE: 'off' });
  let ran = false;
  await assert.rejects(withCliAudit(undefined, async () => void (ran = true), config), (error: Error) => error.message.startsWith(`cannot append to the audit log ${config.audit.file} (`) && error.message.includes('Fix: point TRIBUTARY_AUDIT_LOG'));
  assert.equal(ran, false);
});

test('an engine that cannot append to its audit log does not start, and the error names TRIBUTARY_AUDIT_LOG', async (t) => {
  const file = await unwritable(t);
  const source = generatorSource<{ n: number; ts: number }>({ events: () => ({ next: (ts) => ({ n: 1, ts }) }), eventTime: (e) => e.ts, eventsPerSecond: 10, pace: 'max', limit: 10, startTime: Date.UTC(2026, 0, 1) });
  const topology = defineTopology({ name: 'unaudited', source, demoSource: source, pipeline: (events) => ({ out: events }), sinks: {} });
  const config = loadConfig({ TRIBUTARY_AUDIT_LOG: file, PORT: '0' });
  await assert.rejects(Engine.start(topology, { config, logger: silentLogger, push: false }), (error: unknown) => error instanceof ConfigError && error.field === 'TRIBUTARY_AUDIT_LOG' && error.message.includes(file) && error.message.includes('Fix: '));
});
