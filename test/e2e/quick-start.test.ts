import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/services.ts';
import { freePort } from '../helpers/free-port.ts';
import { firstDataFrame } from '../helpers/first-data-frame.ts';
import { embeddedEngineEnv } from '../helpers/engine-process.ts';

/**
 * The README's first command, `npm start`, with no service variables: the built-in generator,
 * embedded chDB and in-memory state. A dashboard's WebSocket client must get predictions within
 * 15 s of the command starting, and SIGTERM must stop it cleanly.
 */
test('npm start: the embedded demo pushes fraud predictions to a WebSocket client within 15 s', { timeout: 90_000 }, async (t) => {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tributary-demo-'));
  const env = embeddedEngineEnv(port, dataDir);
  const started = Date.now();
  const child = spawn('npm', ['start'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the whole group has already exited
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  const prediction = await firstDataFrame(port, 'fraud', { timeoutMs: 15_000 - (Date.now() - started), output: () => output, retryMs: 200 });
  assert.equal(prediction.channel, 'fraud');
  const data = prediction.data as Record<string, unknown>;
  assert.match(String(data.cardId), /^card-\d{5}$/);
  assert.ok(typeof data.probability === 'number' && data.probability >= 0 && data.probability <= 1);
  assert.ok(Number.isInteger(data.windowEnd) && (data.windowEnd as number) % 60_000 === 0);
  assert.match(String(data.model), /^fraud-lr@[0-9a-f]{12}$/);
  assert.match(output, new RegExp(`Dashboard: +http://127\\.0\\.0\\.1:${port}/`));

  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /\/ws/);

  // Ctrl-C in a terminal signals the whole process group (npm and the engine).
  process.kill(-child.pid!, 'SIGINT');
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref())]);
  assert.notEqual(code, 'timeout', `still running 30 s after SIGINT; output:\n${output}`);
  assert.match(output, /Stopped cleanly after \d+ records/);
});
