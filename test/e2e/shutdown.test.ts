import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/services.ts';

/** `tributary run test/fixtures/stuck-sink.ts` without services; resolves with its exit code and output. */
function runStuck(env: Record<string, string>, signalAfter: RegExp | null): Promise<{ code: number | null; output: string; signalledAt: number; exitedAt: number }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tributary-shutdown-'));
  const clean = { ...process.env };
  for (const name of ['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'REDIS_URL']) delete clean[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', 'test/fixtures/stuck-sink.ts'], {
    cwd: REPO_ROOT,
    env: { ...clean, PORT: '0', CLICKHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let signalledAt = 0;
  const onOutput = (chunk: Buffer) => {
    output += chunk;
    if (signalAfter !== null && signalledAt === 0 && signalAfter.test(output)) {
      signalledAt = performance.now();
      child.kill('SIGTERM');
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
      resolve({ code, output, signalledAt, exitedAt: performance.now() });
    }),
  );
}

test('SIGTERM with a sink that never acknowledges: exit code 3 at the deadline, naming the phase it was in', { timeout: 60_000 }, async () => {
  const { code, output, signalledAt, exitedAt } = await runStuck({ TRIBUTARY_SHUTDOWN_TIMEOUT_MS: '1500' }, /is running/);
  assert.equal(code, 3, output.slice(-2000));
  assert.match(output, /Shutdown did not finish within 1500 ms \(TRIBUTARY_SHUTDOWN_TIMEOUT_MS\); it was flushing sinks\./);
  const waited = exitedAt - signalledAt;
  assert.ok(waited >= 1_400 && waited < 6_000, `exited ${waited.toFixed(0)} ms after SIGTERM`);
});

test('a fatal error (the open-window bound) ends the process with exit code 1 and the error', { timeout: 60_000 }, async () => {
  const { code, output } = await runStuck({ TRIBUTARY_MAX_OPEN_WINDOWS: '5', TRIBUTARY_SHUTDOWN_TIMEOUT_MS: '1000' }, null);
  assert.equal(code, 1, output.slice(-2000));
  assert.match(output, /step per-event: \d+ open windows exceed the bound of 5/);
});
