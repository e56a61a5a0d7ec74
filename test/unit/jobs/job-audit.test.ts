import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent, AuditTrail } from '../../../src/audit/audit-trail.ts';
import { JobAudit } from '../../../src/cli/job-audit.ts';
import { JobScheduler } from '../../../src/jobs/job-scheduler.ts';
import { FAKE_JOB, captureLogger } from './job-test-kit.ts';

test('scheduled runs are recorded: job.start with the command and pid, job.run with the outcome; a skipped run is refused', { timeout: 30_000 }, async () => {
  const events: AuditEvent[] = [];
  const trail: AuditTrail = { record: async (event) => void events.push(event), close: async () => {} };
  const { logger } = captureLogger();
  const audit = new JobAudit({ trail, principal: 'cli:ana' }, logger, true);
  const writes: Array<Promise<void>> = [];
  const scheduler = new JobScheduler({
    jobs: [
      { name: 'ok', command: ['--sleep', '300'] },
      { name: 'fails', command: ['--exit', '3'] },
    ],
    logger,
    entry: FAKE_JOB,
    onRunStarted: (job, due) => void writes.push(audit.started(job, due)),
    onRunEnded: (name, outcome, due) => void writes.push(audit.ended(name, outcome, due)),
  });
  const due = Date.UTC(2026, 0, 31, 12);
  const first = scheduler.run('ok', due); // starts at once (a free slot)
  const skipped = await scheduler.run('ok', due); // due again while it runs
  assert.deepEqual(skipped, { status: 'skipped', reason: 'already running' });
  const ok = await first;
  const failed = await scheduler.run('fails', due);
  await scheduler.stop();
  await Promise.all(writes);
  assert.deepEqual([ok.status, failed.status], ['finished', 'finished']);
  assert.deepEqual(
    events.map((e) => [e.action, e.target, e.outcome, e.reason]),
    [
      ['job.start', 'ok', 'ok', undefined],
      ['job.run', 'ok', 'refused', 'skipped: already running'],
      ['job.run', 'ok', 'ok', undefined],
      ['job.start', 'fails', 'ok', undefined],
      ['job.run', 'fails', 'failed', 'exit code 3'],
    ],
  );
  assert.deepEqual(events[0]!.details, { args: ['--sleep', '300'], pid: events[0]!.details!.pid, scheduled: true, due: '2026-01-31T12:00:00.000Z' });
  assert.ok(Number.isInteger(events[0]!.details!.pid) && events[0]!.details!.pid !== process.pid);
  assert.deepEqual(events[4]!.details, { exitCode: 3, seconds: (events[4]!.details as { seconds: number }).seconds, stopped: false, scheduled: true, due: '2026-01-31T12:00:00.000Z' });
  assert.ok(events.every((e) => e.principal === 'cli:ana'));
});
