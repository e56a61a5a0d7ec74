import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/services.ts';
import { freePort } from '../helpers/free-port.ts';
import { firstDataFrame } from '../helpers/first-data-frame.ts';

const run = promisify(execFile);

/**
 * The package as a new user gets it: `npm pack` of this checkout, installed into a fresh npm
 * project that is CommonJS (no "type": "module") and has no tsx of its own; then the scaffold.
 */
test('the packed tarball installs into a fresh project: ESM and CJS imports, the CLI, a .ts topology, and a scaffolded project that runs and tests', { timeout: 600_000 }, async (t) => {
  const work = mkdtempSync(path.join(tmpdir(), 'tributary-package-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  // NODE_TEST_CONTEXT would make the project's own node --test report to this runner instead of printing.
  for (const name of ['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'REDIS_URL', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT']) delete env[name];
  const npm = (cwd: string, ...args: string[]) => run('npm', args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });

  // 1. npm pack from a copy of the checkout (its build must not touch this checkout's dist/).
  const copy = path.join(work, 'checkout');
  const { stdout: listed } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
  for (const file of listed.split('\0').filter(Boolean)) {
    mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
    try {
      cpSync(path.join(REPO_ROOT, file), path.join(copy, file));
    } catch {
      // listed but deleted in the working tree
    }
  }
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  await npm(copy, 'pack', '--pack-destination', work);
  const tarball = path.join(work, readdirSync(work).find((name) => name.endsWith('.tgz'))!);
  const { stdout: entries } = await run('tar', ['tzf', tarball], { maxBuffer: 16 * 1024 * 1024 });
  const files = entries.split('\n').filter(Boolean);
  assert.deepEqual(files.filter((file) => /\.test\.|^package\/test\//.test(file)), [], 'no test file in the package');
  for (const expected of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/client/index.js', 'package/dist/dashboard/index.html', 'package/bin/tributary.js', 'package/templates/project/topologies/orders.ts']) {
    assert.ok(files.includes(expected), `${expected} is in the package`);
  }

  // 2. A fresh CommonJS project installs it.
  const project = path.join(work, 'fresh');
  mkdirSync(project);
  await npm(project, 'init', '-y');
  await npm(project, 'install', '--prefer-offline', tarball);

  // A .mjs file imports the DSL with plain node and runs a topology with runOnArray.
  writeFileSync(
    path.join(project, 'windows.mjs'),
    `import { defineTopology, kafkaTopic, keyBy, tumbling, aggregate, count, sum } from 'tributary';
import { runOnArray } from 'tributary/testing';
const topology = defineTopology({
  name: 'mini',
  source: kafkaTopic({ topic: 'events', format: 'json', eventTime: (e) => e.ts, outOfOrderness: 0 }),
  pipeline: (events) => ({ totals: events.pipe(keyBy((e) => e.user), tumbling('1m'), aggregate({ n: count(), total: sum((e) => e.amount) })) }),
  sinks: { totals: [] },
});
const events = [{ user: 'a', amount: 2, ts: 0 }, { user: 'a', amount: 3, ts: 30000 }, { user: 'b', amount: 5, ts: 59999 }, { user: 'a', amount: 7, ts: 60000 }];
const { outputs } = await runOnArray(topology, events);
console.log(JSON.stringify(outputs.totals.map(({ key, windowStart, windowEnd, n, total }) => [key, windowStart, windowEnd, n, total])));
`,
  );
  const { stdout: windows } = await run(process.execPath, ['windows.mjs'], { cwd: project, env });
  // Worked out by hand: a has 2 + 3 in [0, 60 s), b has 5 there, a has 7 in [60 s, 120 s).
  assert.deepEqual(JSON.parse(windows), [['a', 0, 60_000, 2, 5], ['b', 0, 60_000, 1, 5], ['a', 60_000, 120_000, 1, 7]]);

  // A .cjs file gets a working import.
  writeFileSync(path.join(project, 'require.cjs'), "const { defineTopology, tumbling } = require('tributary');\nconst { TributaryClient } = require('tributary/client');\nconsole.log(typeof defineTopology, typeof tumbling, typeof TributaryClient);\n");
  const { stdout: required } = await run(process.execPath, ['require.cjs'], { cwd: project, env });
  assert.equal(required.trim(), 'function function function');

  const { stdout: help } = await run('npx', ['tributary', '--help'], { cwd: project, env });
  assert.match(help, /Usage: tributary/);
  assert.match(help, /\binit\b/);

  // A TypeScript topology in this CommonJS project (no "type": "module") runs with npx tributary.
  mkdirSync(path.join(project, 'topologies'));
  writeFileSync(
    path.join(project, 'topologies', 'mine.ts'),
    `import { defineTopology, kafkaTopic, generatorSource, keyBy, tumbling, aggregate, count } from 'tributary';
interface Click { user: string; ts: number }
let n = 0;
export default defineTopology({
  name: 'mine',
  source: kafkaTopic<Click>({ topic: 'clicks', format: 'json', eventTime: (c) => c.ts }),
  demoSource: generatorSource<Click>({ events: () => ({ next: (ts: number) => ({ user: 'u' + (n++ % 7), ts }) }), eventTime: (c) => c.ts, eventsPerSecond: 100, pace: 'max', startTime: 0, limit: 1000 }),
  pipeline: (clicks) => ({ counts: clicks.pipe(keyBy((c) => c.user), tumbling('1m'), aggregate({ n: count() })) }),
  sinks: { counts: [] },
});
`,
  );
  const dataDir = path.join(work, 'mine-data');
  const port = await freePort();
  const { stdout: ran } = await run('npx', ['tributary', 'run', 'topologies/mine.ts'], { cwd: project, env: { ...env, PORT: String(port), CLICKHOUSE_DATA_DIR: dataDir }, timeout: 120_000 });
  assert.match(ran, /Tributary mine is running/);
  assert.match(ran, /Stopped cleanly after 1000 records/);

  // 3. The scaffold: npx tributary init, then the project's own two commands.
  await run('npx', ['tributary', 'init', 'my-pipeline', '--package-spec', `file:${tarball}`], { cwd: project, env });
  const scaffold = path.join(project, 'my-pipeline');
  await npm(scaffold, 'install', '--prefer-offline');
  const { stdout: tested } = await npm(scaffold, 'test');
  assert.match(tested, /# pass 1\n# fail 0/);
  await npm(scaffold, 'run', 'typecheck');

  const demoPort = await freePort();
  const child = spawn('npm', ['start'], { cwd: scaffold, env: { ...env, PORT: String(demoPort), CLICKHOUSE_DATA_DIR: path.join(work, 'scaffold-data') }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const frame = await firstDataFrame(demoPort, 'totals', { timeoutMs: 60_000, output: () => output });
  const row = frame.data as Record<string, unknown>;
  assert.equal(frame.channel, 'totals');
  assert.match(String(row.customerId), /^customer-\d+$/);
  assert.equal((row.windowEnd as number) - (row.windowStart as number), 60_000);
  assert.ok(Number.isInteger(row.orders) && (row.orders as number) >= 1);
  assert.match(output, /\(send \{"type":"subscribe","channel":"totals"\}\)/);
  // The whole group: npm and the engine under it. npm itself exits on the signal; the engine drains.
  process.kill(-child.pid!, 'SIGINT');
  await exited;
  assert.match(output, /Stopped cleanly after \d+ records: sinks flushed, offsets committed\./);
});
