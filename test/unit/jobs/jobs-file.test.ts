import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../../src/core/errors.ts';
import { loadJobsFile, parseJobsFile } from '../../../src/jobs/jobs-file.ts';
import { cronTrigger, everyTrigger } from '../../../src/jobs/triggers.ts';
import { recordFile } from './job-test-kit.ts';

test('the card-fraud example: hourly score-batch, nightly train, on-demand backfill, daily outcomes, hourly parity audit', async () => {
  const file = await loadJobsFile('topologies/card-fraud.jobs.json');
  assert.equal(file.concurrency, 1);
  assert.deepEqual(file.jobs.map((job) => [job.name, job.schedule ?? 'on demand', job.command.slice(0, 2).join(' ')]), [
    ['score-batch', '5 * * * *', 'score-batch topologies/card-fraud.ts'],
    ['train', '30 2 * * *', 'train topologies/card-fraud.ts'],
    ['backfill', 'on demand', 'backfill topologies/card-fraud.ts'],
    ['outcomes', '30 3 * * *', 'models outcomes'],
    ['parity-audit', '20 * * * *', 'audit parity'],
  ]);
  // Every example job runs at low priority (the default).
  assert.ok(file.jobs.every((job) => job.lowPriority !== false));
});

test('a TS jobs file is imported (its default export)', async () => {
  const file = path.join(path.dirname(recordFile()), 'jobs.mjs');
  writeFileSync(file, "export default { jobs: [{ name: 'q', command: ['query', 'SELECT 1'], every: '1h' }] };\n");
  assert.deepEqual((await loadJobsFile(file)).jobs, [{ name: 'q', command: ['query', 'SELECT 1'], every: '1h' }]);
});

function rejects(value: unknown, field: string, text: RegExp): void {
  assert.throws(() => parseJobsFile(value, 'jobs.json'), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.field, field);
    assert.match(error.message, text);
    return true;
  });
}

test('invalid jobs files fail with the file, the field and the fix', () => {
  const ok = { name: 'a', command: ['score-batch', 't.ts'] };
  rejects({}, 'jobs.json: jobs', /expected array/);
  rejects({ jobs: [{ ...ok, comand: [] }] }, 'jobs.json: jobs[0]', /comand/);
  rejects({ jobs: [{ ...ok, command: 'score-batch t.ts' }] }, 'jobs.json: jobs[0].command', /expected array/);
  rejects({ jobs: [ok, ok] }, 'jobs.json: jobs[1].name', /two jobs are named "a"/);
  rejects({ jobs: [{ ...ok, name: 'has space' }] }, 'jobs.json: jobs[0].name', /not a job name/);
  rejects({ jobs: [{ ...ok, command: [] }] }, 'jobs.json: jobs[0].command', /empty/);
  rejects({ jobs: [{ ...ok, schedule: '0 25 * * *' }] }, 'jobs.json: jobs[0].schedule', /not a cron expression.*Fix: write 5 fields/);
  rejects({ jobs: [{ ...ok, schedule: '0 * * * *', every: '1h' }] }, 'jobs.json: jobs[0]', /both schedule and every/);
  rejects({ jobs: [{ ...ok, every: '1 hour' }] }, 'jobs.json: jobs[0].every', /not a duration/);
  rejects({ jobs: [{ ...ok, every: '500ms' }] }, 'jobs.json: jobs[0].every', /shorter than a second/);
  rejects({ jobs: [{ ...ok, command: ['backfill', '--from', '{now-1hour}'] }] }, 'jobs.json: jobs[0].command', /not a time placeholder/);
  rejects({ jobs: [{ ...ok, maxOldSpaceMb: 10 }] }, 'jobs.json: jobs[0].maxOldSpaceMb', /heap size/);
  rejects({ concurrency: 0, jobs: [ok] }, 'jobs.json: concurrency', /not a number of jobs/);
});

test('cron triggers (with seconds and time zones) and fixed intervals give the next due time strictly after', () => {
  const t = Date.UTC(2026, 0, 31, 10, 0, 0);
  const everySecond = cronTrigger('* * * * * *');
  assert.equal(everySecond.next(t), t + 1_000);
  assert.equal(everySecond.next(t + 1), t + 1_000);
  assert.equal(cronTrigger('5 * * * *', { timezone: 'UTC' }).next(t), t + 5 * 60_000);
  assert.equal(cronTrigger('30 2 * * *', { timezone: 'Europe/Berlin' }).next(t), Date.UTC(2026, 1, 1, 1, 30));
  const every = everyTrigger(60_000, t);
  assert.equal(every.next(t), t + 60_000);
  assert.equal(every.next(t + 59_999), t + 60_000);
  assert.equal(every.next(t + 60_000), t + 120_000);
});
