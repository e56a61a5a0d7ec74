import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readiness } from '../../../src/observability/readiness.ts';

test('ready only once sinks are open, the source runs with partitions and start-up completed', () => {
  const readiness = new Readiness();
  const steps: Array<[() => void, string | undefined]> = [
    [() => {}, 'sinks are not open yet'],
    [() => readiness.sinksOpened(), 'the source is not running yet'],
    [() => readiness.sourceStarted(), 'no partitions assigned yet (joining the consumer group)'],
    [() => readiness.assigned(0), 'no partitions assigned to this instance (more instances than partitions?)'],
    [() => readiness.assigned(3), 'the engine is still starting'],
    [() => readiness.engineStarted(), undefined],
  ];
  for (const [step, reason] of steps) {
    step();
    const status = readiness.status();
    assert.equal(status.reason, reason);
    assert.equal(status.ready, reason === undefined);
  }
  assert.deepEqual(readiness.status(), { ready: true, checks: { sinksOpen: true, sourceRunning: true, assigned: true, started: true }, partitions: 3 });
});

test('a stop or failure makes it not ready for good, keeping the first reason', () => {
  const readiness = new Readiness();
  readiness.sinksOpened();
  readiness.sourceStarted();
  readiness.assigned(1);
  readiness.engineStarted();
  readiness.stopped('failed: sink clickhouse:payments rejected every row');
  readiness.stopped('stopping');
  readiness.assigned(2);
  const status = readiness.status();
  assert.equal(status.ready, false);
  assert.equal(status.reason, 'failed: sink clickhouse:payments rejected every row');
  assert.equal(status.partitions, 2);
});
