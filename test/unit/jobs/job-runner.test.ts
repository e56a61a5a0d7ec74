import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobStartError } from '../../../src/jobs/job-errors.ts';
import { runJob, startJob } from '../../../src/jobs/job-runner.ts';
import { captureLogger, FAKE_JOB, readRecords, recordFile } from './job-test-kit.ts';

test('runs a job to its end: exit code, duration, placeholders expanded at `now`, start and end logged', async () => {
  const { logger, lines } = captureLogger();
  const file = recordFile();
  const now = Date.UTC(2026, 0, 31, 10, 30);
  const result = await runJob('backfill', ['--record', file, '--from', '{now-1h/h}', '--to', '{now/h}', '--exit', '4'], { logger, entry: FAKE_JOB, now, lowPriority: false });
  assert.equal(result.exitCode, 4);
  assert.equal(result.signal, null);
  assert.equal(result.stopped, false);
  assert.ok(result.seconds > 0 && result.seconds < 30, String(result.seconds));
  assert.deepEqual(readRecords(file)[0]!.args, ['--record', file, '--from', String(Date.UTC(2026, 0, 31, 9)), '--to', String(Date.UTC(2026, 0, 31, 10)), '--exit', '4']);
  const started = lines.find((line) => line.msg === `job backfill started (pid ${readRecords(file)[0]!.pid}, nice 0)`);
  assert.ok(started, JSON.stringify(lines));
  const ended = lines.at(-1)!;
  assert.equal(ended.level, 50);
  assert.match(String(ended.msg), /^job backfill finished with exit code 4 after \d+\.\d s$/);
  assert.equal(ended.exitCode, 4);
});

test("the job's output reaches the parent's logger tagged with the job's name; its pino lines keep their level and fields", async () => {
  const { logger, lines } = captureLogger();
  await runJob('score-batch', ['--say', 'scored 42 cards'], { logger, entry: FAKE_JOB, lowPriority: false });
  const out = lines.find((line) => line.msg === 'scored 42 cards');
  assert.deepEqual([out?.job, out?.stream, out?.level], ['score-batch', 'stdout', 30]);
  const warned = lines.find((line) => line.msg === 'warned scored 42 cards');
  assert.deepEqual([warned?.job, warned?.stream, warned?.level, warned?.detail, warned?.hostname], ['score-batch', 'stderr', 40, 7, lines[0]!.hostname]);
  // The end is logged after the job's last line.
  assert.match(String(lines.at(-1)!.msg), /^job score-batch finished with exit code 0/);
});

test('stop(): SIGTERM to the job, SIGKILL after the grace period when it ignores SIGTERM', async () => {
  const { logger, messages } = captureLogger();
  const polite = startJob('polite', ['--sleep', '60000'], { logger, entry: FAKE_JOB, lowPriority: false, killGraceMs: 5_000 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const a = await polite.stop();
  assert.deepEqual([a.signal, a.exitCode, a.stopped], ['SIGTERM', 143, true]);
  const stubborn = startJob('stubborn', ['--sleep', '60000', '--ignore-term', '--say', 'term handler installed'], { logger, entry: FAKE_JOB, lowPriority: false, killGraceMs: 300 });
  // It says so once its SIGTERM handler is installed (a fixed wait is too short on a loaded machine).
  for (let waited = 0; !messages().includes('term handler installed'); waited += 50) {
    assert.ok(waited < 30_000, 'the stubborn job never started');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const b = await stubborn.stop();
  assert.deepEqual([b.signal, b.exitCode, b.stopped], ['SIGKILL', 137, true]);
  assert.ok(messages().includes('job stubborn still running 300 ms after SIGTERM: SIGKILL'), messages().join('\n'));
  assert.ok(messages().some((m) => m.startsWith('job stubborn stopped with exit code 137 (SIGKILL)')));
});

test('maxOldSpaceMb caps the heap of the job (NODE_OPTIONS)', async () => {
  const { logger } = captureLogger();
  const file = recordFile();
  await runJob('train', ['--record', file], { logger, entry: FAKE_JOB, lowPriority: false, maxOldSpaceMb: 200 });
  const heapMb = readRecords(file)[0]!.heapMb;
  assert.ok(heapMb >= 200 && heapMb < 300, `heap limit ${heapMb} MiB`);
});

test('a job whose program cannot start throws JobStartError', () => {
  const { logger } = captureLogger();
  assert.throws(() => startJob('ghost', [], { logger, entry: ['/nonexistent/tributary'] }), JobStartError);
});
