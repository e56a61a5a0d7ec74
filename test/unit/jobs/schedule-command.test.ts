import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordFile } from './job-test-kit.ts';

const CLI = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `whenRunning` may signal it. */
function cli(args: string[], whenRunning?: (output: () => string, signal: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  whenRunning?.(() => stdout, (s) => child.kill(s));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

function jobsFile(jobs: unknown[]): string {
  const file = path.join(path.dirname(recordFile()), 'jobs.json');
  writeFileSync(file, JSON.stringify({ jobs }));
  return file;
}

test('schedule --list prints each job, its next runs and its command as it would run', async () => {
  const run = await cli(['schedule', 'topologies/card-fraud.jobs.json', '--list']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^score-batch: cron "5 \* \* \* \*"\n/);
  assert.match(run.stdout, /\n {2}next: \d{4}-\d\d-\d\dT\d\d:05:00\.000Z, /);
  assert.match(run.stdout, /\ntrain: cron "30 2 \* \* \*" \(UTC\)\n/);
  assert.match(run.stdout, /\n {2}runs: tributary train topologies\/card-fraud\.ts --from \d+ --to \d+\n/);
  assert.match(run.stdout, /\nbackfill: on demand\n/);
});

test('job <file> <name> runs it now through the CLI and exits with its exit code; extra args are appended', async () => {
  const file = jobsFile([{ name: 'help', command: ['query'] }, { name: 'broken', command: ['no-such-command'] }]);
  const ok = await cli(['job', file, 'help', '--', '--help']);
  assert.equal(ok.code, 0, ok.stderr);
  const lines = ok.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(lines[0]!.args, ['query', '--help']);
  assert.ok(lines.some((line) => line.job === 'help' && line.msg === 'Usage: tributary query [options] <sql>'), ok.stdout);
  const failed = await cli(['job', file, 'broken']);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /"msg":"job broken finished with exit code 1 after/);
  const unknown = await cli(['job', file, 'nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no job named "nope"; the jobs are: help, broken/);
});

test('schedule runs jobs until SIGTERM, then exits 0; a bad file fails with the field', async () => {
  const file = jobsFile([{ name: 'tick', command: ['query', '--help'], every: '1s' }]);
  const run = await cli(['schedule', file], (output, signal) => {
    const timer = setInterval(() => {
      if (output().includes('"msg":"job tick finished with exit code 0')) {
        clearInterval(timer);
        signal('SIGTERM');
      }
    }, 100);
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Tributary scheduler: 1 jobs from .*, 1 at a time, at low priority/);
  assert.match(run.stdout, /SIGTERM: stopping the scheduler and its running jobs/);
  assert.match(run.stdout, /"msg":"scheduler stopped"}\n$/);
  const bad = await cli(['schedule', jobsFile([{ name: 'x', command: ['score-batch'], schedule: 'hourly' }])]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Invalid configuration ".*jobs\.json: jobs\[0\]\.schedule": "hourly" is not a cron expression/);
});
