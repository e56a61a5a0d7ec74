import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { REPO_ROOT, requireService, uniqueName } from '../helpers/services.ts';

const run = promisify(execFile);
/**
 * Generous bound on an idle engine's RSS in MiB (the target is 120 MB; bin/tributary.js at the
 * default budget measured 111-133 MiB 25 s after start on the loaded 2-core dev machine, main's
 * engine 136-155). It catches a native library or a large module loaded at start again, not drift.
 */
const IDLE_RSS_BOUND_MB = 170;

function idleEnv(topic: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, IDLE_TOPIC: topic, IDLE_TABLE: uniqueName('idle_payments'), KAFKA_BROKERS: requireService('KAFKA_BROKERS'), CLICKHOUSE_URL: requireService('CLICKHOUSE_URL') };
  delete env.REDIS_URL;
  delete env.TRIBUTARY_MEMORY_MB;
  delete env.NODE_OPTIONS;
  return env;
}

test('an idle engine with a ClickHouse server sink and no score step loads neither chDB nor onnxruntime', { timeout: 120_000 }, async () => {
  const topic = await createPaymentsTopic(requireService('KAFKA_BROKERS').split(','), { partitions: 3 });
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/fixtures/idle-engine.ts'], { cwd: REPO_ROOT, env: idleEnv(topic.topic), timeout: 90_000 });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { chdb: boolean; onnxruntime: boolean; rssMb: number };
    console.log(`# idle engine (in process, Node's default heap flags): ${stdout.trim()}`);
    assert.equal(report.chdb, false, 'chDB (about 150 MB of native code) is not mapped');
    assert.equal(report.onnxruntime, false, 'onnxruntime is not mapped');
  } finally {
    await topic.close();
  }
});

/** The process bin/tributary.js started with the budget's heap flags (its only child). */
function engineChild(launcherPid: number): number {
  const children = readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  assert.equal(children.length, 1, `bin/tributary.js runs the engine in one child process (children: ${children.join(',')})`);
  return Number(children[0]);
}

test('`tributary run` idles within the memory bound, with the launcher\'s heap flags, and stops cleanly on SIGTERM', { timeout: 150_000 }, async () => {
  const topic = await createPaymentsTopic(requireService('KAFKA_BROKERS').split(','), { partitions: 3 });
  const dir = mkdtempSync(path.join(tmpdir(), 'tributary-idle-'));
  const env = { ...idleEnv(topic.topic), PORT: '0', TRIBUTARY_AUDIT_LOG: path.join(dir, 'audit.jsonl'), TRIBUTARY_AUDIT_TABLE: 'off', LOG_LEVEL: 'warn' };
  const launcher = spawn(process.execPath, ['bin/tributary.js', 'run', 'test/fixtures/idle-topology.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  launcher.stdout.on('data', (chunk) => (output += chunk));
  launcher.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
  try {
    while (!output.includes('is running.')) {
      assert.equal(launcher.exitCode, null, `the engine exited early:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const engine = engineChild(launcher.pid!);
    const cmdline = readFileSync(`/proc/${engine}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(cmdline.slice(1, 2), ['--max-semi-space-size=4'], 'without TRIBUTARY_MEMORY_MB the launcher chose the semi-space only');
    const rss = (pid: number) => Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);
    const afterStart = rss(engine);
    // V8's memory reducer gives back the start-up's young generation after some idle seconds.
    await new Promise((resolve) => setTimeout(resolve, 22_000));
    const rssMb = rss(engine);
    const maps = readFileSync(`/proc/${engine}/maps`, 'utf8');
    console.log(`# idle engine under tributary run: ${afterStart} MiB RSS 3 s after start, ${rssMb} MiB after 25 s (launcher ${rss(launcher.pid!)} MiB)`);
    assert.equal(/chdb|onnxruntime/i.test(maps), false, 'no chDB, no onnxruntime');
    assert.ok(rssMb <= IDLE_RSS_BOUND_MB, `idle RSS ${rssMb} MB is within ${IDLE_RSS_BOUND_MB} MB`);
    launcher.kill('SIGTERM');
    assert.equal(await exited, 0, `a forwarded SIGTERM stops the engine cleanly:\n${output}`);
    assert.match(output, /Stopped cleanly after 0 records/);
  } finally {
    launcher.kill('SIGKILL');
    await topic.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
