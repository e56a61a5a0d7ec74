import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayPacer } from '../../../src/sources/clickhouse-replay/replay-pacer.ts';

/** A pacer on a fake clock: waits advance the clock and are recorded. */
function fakePacer(eventsPerSecond: number, burstMs = 1_000) {
  let now = 0;
  const waits: number[] = [];
  const pacer = new ReplayPacer(eventsPerSecond, burstMs, () => now, async (ms) => {
    waits.push(ms);
    now += ms;
  });
  return { pacer, waits, advance: (ms: number) => (now += ms), signal: new AbortController().signal };
}

test('the pacer holds batches to the rate: 1,000 events at 10,000/s wait 100 ms after the batch', async () => {
  const { pacer, waits, signal } = fakePacer(10_000);
  await pacer.handed(1_000, signal);
  await pacer.handed(1_000, signal);
  await pacer.handed(500, signal);
  assert.deepEqual(waits, [100, 100, 50]);
});

test('time the pipeline took counts: no wait when a batch took longer than its share', async () => {
  const { pacer, waits, advance, signal } = fakePacer(10_000);
  await pacer.handed(1_000, signal); // waits 100
  advance(150); // the next batch took 150 ms to go through, 50 more than its share
  await pacer.handed(1_000, signal);
  assert.deepEqual(waits, [100], 'no wait after it');
  await pacer.handed(1_000, signal); // at once: 100 ms share - 50 ms behind
  assert.deepEqual(waits, [100, 50]);
});

test('after a slow stretch it catches up by at most burstMs worth of events', async () => {
  const { pacer, waits, advance, signal } = fakePacer(1_000, 1_000);
  await pacer.handed(100, signal); // waits 100
  advance(10_000); // the engine was busy for 10 s
  for (let i = 0; i < 12; i++) await pacer.handed(100, signal);
  // 1 s of credit = 1,000 events: the first ten batches go at once, then 100 ms each.
  assert.deepEqual(waits, [100, 100, 100]);
});

test('an aborted signal ends a wait at once', async () => {
  const controller = new AbortController();
  const pacer = new ReplayPacer(1);
  controller.abort();
  const started = performance.now();
  await pacer.handed(1_000, controller.signal); // would be 1,000 s
  assert.ok(performance.now() - started < 30_000);
  const live = new AbortController();
  const waiting = pacer.handed(1_000, live.signal);
  live.abort();
  await waiting;
});
