import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/services.ts';

/**
 * `tributary run test/fixtures/stuck-sink.ts` without services; sends each signal once the output
 * matches its pattern, in order; resolves with the exit code, the output and when the first signal went.
 */
function runStuck(env: Record<string, string>, signals: Array<{ after: RegExp; signal: NodeJS.Signals }>): Promise<{ code: number | null; output: string; signalledAt: number; exitedAt: number }> {
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
  let next = 0;
  const onOutput = (chunk: Buffer) => {
    output += chunk;
    while (next < signals.length && signals[next]!.after.test(output)) {
      if (next === 0) signalledAt = performance.now();
      child.kill(signals[next++]!.signal);
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
  const { code, output, signalledAt, exitedAt } = await runStuck({ TRIBUTARY_SHUTDOWN_TIMEOUT_MS: '1500' }, [{ after: /is running/, signal: 'SIGTERM' }]);
  assert.equal(code, 3, output.slice(-2000));
  assert.match(output, /Shutdown did not finish within 1500 ms \(TRIBUTARY_SHUTDOWN_TIMEOUT_MS\); it was flushing sinks\./);
  // It waited for the deadline; the upper bound only catches a process that hangs (a loaded machine is slow).
  const waited = exitedAt - signalledAt;
  assert.ok(waited >= 1_400 && waited < 25_000, `exited ${waited.toFixed(0)} ms after SIGTERM`);
});

test('a fatal error (the open-window bound) ends the process with exit code 1 and the error', { timeout: 60_000 }, async () => {
  const { code, output } = await runStuck({ TRIBUTARY_MAX_OPEN_WINDOWS: '5', TRIBUTARY_SHUTDOWN_TIMEOUT_MS: '1000' }, []);
  assert.equal(code, 1, output.slice(-2000));
  assert.match(output, /step per-event: \d+ open windows exceed the bound of 5/);
});

test('a second signal while draining cuts the shutdown short: exit code 130', { timeout: 60_000 }, async () => {
  const { code, output } = await runStuck({ TRIBUTARY_SHUTDOWN_TIMEOUT_MS: '20000' }, [
    { after: /is running/, signal: 'SIGTERM' },
    { after: /SIGTERM: draining, flushing sinks and committing offsets/, signal: 'SIGINT' },
  ]);
  assert.equal(code, 130, output.slice(-2000));
  assert.match(output, /SIGINT again: exiting at once \(offsets after the last commit are read again on restart\)/);
  assert.doesNotMatch(output, /Shutdown did not finish/);
});
