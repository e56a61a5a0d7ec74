/**
 * Batch jobs run as real child processes at low priority (the online engine keeps the CPU), and
 * a 1-second cron schedule runs a job exactly once per second. Linux only (/proc).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import { startJob } from '../../src/jobs/job-runner.ts';
import { JobScheduler } from '../../src/jobs/job-scheduler.ts';
import { captureLogger, FAKE_JOB, readRecords, recordFile } from '../unit/jobs/job-test-kit.ts';

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces): [2] is field 5. */
function stat(pid: number | string, task?: string): string[] {
  const text = readFileSync(task === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}
/** Field 19 of /proc/<pid>/stat: the nice value. */
const niceOf = (pid: number | string, task?: string) => Number(stat(pid, task)[16]);
/** Field 6: the session id. */
const sessionOf = (pid: number | string) => Number(stat(pid)[3]);
const autogroup = (pid: number | 'self') => readFileSync(`/proc/${pid}/autogroup`, 'utf8').trim();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a job runs at nice 19 (every thread), in its own session, while this process stays at 0', async () => {
  const { logger } = captureLogger();
  const file = recordFile();
  const parentAutogroup = existsSync('/proc/self/autogroup') ? autogroup('self') : undefined;
  const job = startJob('backfill', ['--record', file, '--sleep', '60000'], { logger, entry: FAKE_JOB });
  try {
    assert.equal(niceOf(job.pid), 19, '/proc/<pid>/stat field 19');
    assert.equal(os.getPriority(job.pid), 19);
    // Until Node has started its V8 and libuv threads (slow at nice 19 on a busy machine).
    let threads = readdirSync(`/proc/${job.pid}/task`);
    for (let i = 0; i < 100 && threads.length < 5; i++, await sleep(100)) threads = readdirSync(`/proc/${job.pid}/task`);
    assert.ok(threads.length >= 5, `threads: ${threads.length}`);
    assert.deepEqual(threads.map((tid) => niceOf(job.pid, tid)), threads.map(() => 19), 'every thread');
    assert.equal(sessionOf(job.pid), job.pid, 'its own session and process group');
    assert.equal(os.getPriority(), 0, 'this process is not reniced');
    assert.equal(niceOf(process.pid), 0);
    assert.equal(job.priority.nice, 19);
    if (readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1') {
      assert.match(autogroup(job.pid), / nice 19$/, "the job's session's autogroup");
      assert.equal(job.priority.autogroupNice, 19);
      const own = autogroup('self');
      assert.equal(own, parentAutogroup, "this process's autogroup is untouched");
      // Empty when this process is in no autogroup of its own (the init group, as under a CI runner).
      if (own !== '') assert.match(own, / nice 0$/);
    }
  } finally {
    await job.stop();
  }
  assert.equal(readRecords(file).length, 0, 'stopped before its end');
  const normal = startJob('normal', ['--record', file], { logger, entry: FAKE_JOB, lowPriority: false });
  assert.equal((await normal.done).exitCode, 0);
  assert.equal(readRecords(file)[0]!.nice, 0, 'lowPriority: false leaves it at 0');
});

test('a 1-second cron runs the job exactly once per second, each at nice 19 with {now} = the second it was due', async () => {
  const file = recordFile();
  const { logger } = captureLogger();
  // A shell job: starts in a millisecond, so even at nice 19 on a busy machine no run overlaps the next.
  const entry = ['/bin/sh', '-c', `echo "$1 $(cut -d' ' -f19 /proc/$$/stat)" >> '${file}'`, 'job'];
  const scheduler = new JobScheduler({ jobs: [{ name: 'tick', command: ['{now}'], schedule: '* * * * * *' }], logger, entry });
  // Start and stop half-way between whole seconds, so which due times fall inside is unambiguous.
  await sleep(1_500 - (Date.now() % 1_000));
  const startedAt = Date.now();
  scheduler.start();
  await sleep(5_000 - (Date.now() - startedAt));
  const stoppedAt = Date.now();
  await scheduler.stop();
  for (const [what, t] of [['start', startedAt], ['stop', stoppedAt]] as const) {
    const margin = Math.min(t % 1_000, 1_000 - (t % 1_000));
    assert.ok(margin >= 100, `${what} at ${t} is ${margin} ms from a whole second: the machine is too busy for exact counts`);
  }
  const expected: number[] = [];
  for (let second = Math.ceil(startedAt / 1_000) * 1_000; second < stoppedAt; second += 1_000) expected.push(second);
  assert.equal(expected.length, 5);
  // Each shell run needs a moment to write its line after the scheduler has counted it.
  let lines: string[] = [];
  for (let i = 0; i < 20 && lines.length < expected.length; i++, await sleep(100)) lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  assert.deepEqual(lines.map((line) => Number(line.split(' ')[0])), expected, 'one run per due second, in order');
  assert.deepEqual(lines.map((line) => Number(line.split(' ')[1])), expected.map(() => 19), 'each at nice 19');
  const counts = scheduler.counts('tick');
  assert.deepEqual([counts.runs, counts.failures, counts.skipped], [5, 0, 0]);
});
