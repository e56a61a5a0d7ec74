import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobScheduler, type JobDefinition } from '../../../src/jobs/job-scheduler.ts';
import { UnknownJobError } from '../../../src/jobs/job-errors.ts';
import { captureLogger, FAKE_JOB, readRecords, recordFile, type JobRecord } from './job-test-kit.ts';

/** Priority is the integration test's subject; here it would only slow the children down. */
function scheduler(jobs: JobDefinition[], concurrency?: number) {
  const captured = captureLogger();
  const s = new JobScheduler({ jobs: jobs.map((job) => ({ lowPriority: false, ...job })), concurrency, logger: captured.logger, entry: FAKE_JOB, killGraceMs: 1_000 });
  return { s, ...captured };
}

function overlaps(a: JobRecord, b: JobRecord): boolean {
  return a.start < b.end && b.start < a.end;
}

test('a run due while the same job is still running is skipped, counted and logged', async (t) => {
  const file = recordFile();
  const { s, messages } = scheduler([{ name: 'slow', command: ['--record', file, '--sleep', '800'] }]);
  t.after(() => s.stop());
  const first = s.run('slow');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(s.counts('slow').state, 'running');
  assert.deepEqual(await s.run('slow'), { status: 'skipped', reason: 'already running' });
  assert.deepEqual(await s.run('slow'), { status: 'skipped', reason: 'already running' });
  const outcome = await first;
  assert.equal(outcome.status === 'finished' && outcome.result.exitCode, 0);
  assert.deepEqual({ ...s.counts('slow'), last: undefined }, { runs: 1, failures: 0, skipped: 2, state: 'idle', last: undefined });
  assert.equal(readRecords(file).length, 1);
  assert.ok(messages().some((m) => /^job slow is due but already running \(pid \d+\): run skipped \(2 so far\)$/.test(m)), messages().join('\n'));
  // Once it has finished, it runs again.
  assert.equal((await s.run('slow')).status, 'finished');
  assert.equal(readRecords(file).length, 2);
});

test('concurrency 1 (the default): jobs run one after another, and a waiting job is not queued twice', async (t) => {
  const file = recordFile();
  const { s } = scheduler(['a', 'b', 'c'].map((name) => ({ name, command: ['--record', file, '--sleep', '300', '--say', name] })));
  t.after(() => s.stop());
  const runs = [s.run('a'), s.run('b'), s.run('c')];
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(['a', 'b', 'c'].map((name) => s.counts(name).state), ['running', 'waiting', 'waiting']);
  assert.deepEqual(await s.run('c'), { status: 'skipped', reason: 'already waiting' });
  assert.deepEqual((await Promise.all(runs)).map((o) => o.status), ['finished', 'finished', 'finished']);
  const records = readRecords(file).sort((x, y) => x.start - y.start);
  assert.deepEqual(records.map((r) => r.args.at(-1)), ['a', 'b', 'c'], 'first come, first served');
  assert.ok(!overlaps(records[0]!, records[1]!) && !overlaps(records[1]!, records[2]!), JSON.stringify(records));
  assert.equal(s.counts('c').skipped, 1);
});

test('concurrency 2: two jobs run at once, the third waits', async (t) => {
  const file = recordFile();
  const { s } = scheduler(['a', 'b', 'c'].map((name) => ({ name, command: ['--record', file, '--sleep', '600', '--say', name] })), 2);
  t.after(() => s.stop());
  const runs = [s.run('a'), s.run('b'), s.run('c')];
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(['a', 'b', 'c'].map((name) => s.counts(name).state), ['running', 'running', 'waiting']);
  await Promise.all(runs);
  const byName = Object.fromEntries(readRecords(file).map((r) => [r.args.at(-1), r]));
  assert.ok(overlaps(byName.a!, byName.b!), 'a and b overlap');
  assert.ok(!overlaps(byName.c!, byName.a!) || !overlaps(byName.c!, byName.b!), 'c started when one of them ended');
});

test('failing jobs (an exit code, a program that cannot start) never stop the scheduler', async (t) => {
  const file = recordFile();
  const { s, lines } = scheduler([
    { name: 'fails', command: ['--exit', '3'], every: '1s' },
    { name: 'works', command: ['--record', file], every: '1s' },
  ]);
  t.after(() => s.stop());
  s.start();
  // Three runs of each, however slow the machine: every run of `fails` fails, `works` goes on.
  while (readRecords(file).length < 3 || s.counts('fails').failures < 3) await new Promise((resolve) => setTimeout(resolve, 50));
  await s.stop();
  const fails = s.counts('fails');
  const works = s.counts('works');
  assert.ok(fails.failures >= 3, JSON.stringify(fails));
  assert.ok(fails.runs - fails.failures <= 1, 'all but a run stopped by stop() failed');
  assert.equal(works.failures, 0, JSON.stringify(works));
  assert.ok(works.runs >= 3);
  assert.equal(lines.filter((line) => /^job fails finished with exit code 3/.test(String(line.msg)) && line.level === 50).length, fails.failures);

  const broken = new JobScheduler({ jobs: [{ name: 'ghost', command: ['x'] }], logger: captureLogger().logger, entry: ['/nonexistent/tributary'] });
  const outcome = await broken.run('ghost');
  assert.equal(outcome.status, 'failed to start');
  assert.deepEqual({ ...broken.counts('ghost') }, { runs: 1, failures: 1, skipped: 0, state: 'idle' });
  assert.equal((await broken.run('ghost')).status, 'failed to start', 'and it can be run again');
});

test('stop() ends a running job and drops waiting ones; unknown names are refused', async () => {
  const { s } = scheduler([{ name: 'long', command: ['--sleep', '60000'] }, { name: 'next', command: ['--exit', '0'] }]);
  const long = s.run('long');
  const next = s.run('next');
  await new Promise((resolve) => setTimeout(resolve, 200));
  await s.stop();
  const outcome = await long;
  assert.equal(outcome.status === 'finished' && outcome.result.stopped, true);
  assert.deepEqual(await next, { status: 'skipped', reason: 'scheduler stopped' });
  assert.equal(s.counts('long').failures, 0, 'a stopped run is not a failure');
  await assert.rejects(s.run('nope'), UnknownJobError);
});

test('nextRuns lists the next due times of a schedule; none for on-demand jobs', () => {
  const { s } = scheduler([{ name: 'hourly', command: ['x'], schedule: '0 * * * *', timezone: 'UTC' }, { name: 'manual', command: ['x'] }]);
  const t = Date.UTC(2026, 0, 31, 10, 17);
  assert.deepEqual(s.nextRuns('hourly', 3, t), [11, 12, 13].map((h) => Date.UTC(2026, 0, 31, h)));
  assert.deepEqual(s.nextRuns('manual', 3, t), []);
});
