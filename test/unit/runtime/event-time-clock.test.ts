import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventTimeClock } from '../../../src/core/event-time-clock.ts';

test('the watermark starts at -Infinity', () => {
  const clock = new EventTimeClock(5_000);
  assert.equal(clock.watermark, -Infinity);
});

test('one partition: the largest event time seen minus the out-of-orderness', () => {
  const clock = new EventTimeClock(5_000);
  assert.equal(clock.observe('t:0', 100_000), 95_000);
  assert.equal(clock.watermark, 95_000);
  assert.equal(clock.observe('t:0', 120_000), 115_000);
});

test('a batch older than what the partition already delivered does not move the watermark back', () => {
  const clock = new EventTimeClock(1_000);
  clock.observe('t:0', 50_000);
  assert.equal(clock.observe('t:0', 10_000), 49_000);
  assert.equal(clock.watermark, 49_000);
});

test('zero out-of-orderness makes the watermark the largest event time', () => {
  const clock = new EventTimeClock(0);
  assert.equal(clock.observe('t:0', 1234), 1234);
});

test('the watermark is the minimum over assigned partitions; an unseen one holds it at -Infinity', () => {
  const clock = new EventTimeClock(1_000);
  clock.assign(['t:0', 't:1', 't:2']);
  assert.equal(clock.watermark, -Infinity);
  assert.equal(clock.observe('t:0', 10_000), -Infinity);
  assert.equal(clock.observe('t:1', 30_000), -Infinity);
  assert.equal(clock.observe('t:2', 20_000), 9_000, 'min(10s, 30s, 20s) - 1s');
  assert.equal(clock.observe('t:1', 60_000), 9_000, 'the slowest partition (t:0) decides');
  assert.equal(clock.observe('t:0', 25_000), 19_000, 'now t:2 is the slowest');
});

test('a partition the clock was not told about joins the minimum', () => {
  const clock = new EventTimeClock(0);
  clock.observe('generator:0', 500);
  assert.equal(clock.watermark, 500);
  assert.equal(clock.observe('generator:1', 100), 500, 'never backwards');
  assert.equal(clock.observe('generator:0', 900), 500, 'min(900, 100) = 100 is below the current 500');
  assert.equal(clock.observe('generator:1', 700), 700);
});

test('reassignment: dropping the slowest partition advances the watermark', () => {
  const clock = new EventTimeClock(0);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 1_000);
  clock.observe('t:1', 5_000);
  assert.equal(clock.watermark, 1_000);
  clock.assign(['t:1']);
  assert.equal(clock.watermark, 5_000);
});

test('reassignment: adding an unseen partition never moves the watermark backwards', () => {
  const clock = new EventTimeClock(0);
  clock.assign(['t:0']);
  clock.observe('t:0', 8_000);
  clock.assign(['t:0', 't:1']);
  assert.equal(clock.watermark, 8_000);
  assert.equal(clock.observe('t:0', 12_000), 8_000, 't:1 has delivered nothing yet');
  assert.equal(clock.observe('t:1', 10_000), 10_000);
});

test('a partition assigned again starts afresh (its checkpoint restores it); the watermark never goes back', () => {
  const clock = new EventTimeClock(0);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 3_000);
  clock.observe('t:1', 4_000);
  clock.assign(['t:1']);
  clock.assign(['t:0', 't:1']);
  assert.equal(clock.watermark, 4_000);
  assert.equal(clock.observe('t:1', 9_000), 4_000);
  assert.equal(clock.observe('t:0', 6_000), 6_000);
});

test('an empty assignment leaves the watermark where it is', () => {
  const clock = new EventTimeClock(0);
  clock.observe('t:0', 2_000);
  clock.assign([]);
  assert.equal(clock.watermark, 2_000);
});

test('finish moves the watermark to +Infinity and it stays there', () => {
  const clock = new EventTimeClock(5_000);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 1_000);
  assert.equal(clock.finish(), Infinity);
  assert.equal(clock.watermark, Infinity);
  assert.equal(clock.observe('t:1', 2_000), Infinity);
  clock.assign(['t:2']);
  assert.equal(clock.watermark, Infinity);
});

test('the watermark is monotonic over a random interleaving of partitions', () => {
  const clock = new EventTimeClock(250);
  clock.assign(['a', 'b', 'c']);
  const maxima = new Map<string, number>();
  let previous = -Infinity;
  let state = 12345;
  for (let i = 0; i < 2_000; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const partition = ['a', 'b', 'c'][state % 3]!;
    const eventTime = 1_000 + i * 10 - (state % 700); // out of order within each partition
    maxima.set(partition, Math.max(maxima.get(partition) ?? -Infinity, eventTime));
    const watermark = clock.observe(partition, eventTime);
    assert.ok(watermark >= previous, 'never backwards');
    const least = maxima.size === 3 ? Math.min(...maxima.values()) - 250 : -Infinity;
    assert.equal(watermark, Math.max(previous, least));
    previous = watermark;
  }
});

// Idleness (Flink's withIdleness): a fake wall clock makes every step deterministic.
function idleClock(outOfOrdernessMs: number, idleTimeoutMs: number) {
  const time = { now: 1_000_000 };
  const clock = new EventTimeClock(outOfOrdernessMs, { idleTimeoutMs, now: () => time.now });
  return { clock, time };
}

test('idleness: a silent partition is left out of the minimum after the timeout', () => {
  const { clock, time } = idleClock(1_000, 2_000);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 10_000);
  clock.observe('t:1', 50_000);
  assert.equal(clock.watermark, 9_000, 't:0 decides');
  time.now += 1_999;
  assert.equal(clock.observe('t:1', 60_000), 9_000, 't:0 is silent for 1,999 ms: still active');
  time.now += 1;
  assert.equal(clock.idlePartitions, 0);
  assert.equal(clock.tick(), 59_000, 't:0 silent for 2,000 ms (t:1 delivered 1 ms ago): only t:1 counts');
  assert.equal(clock.idlePartitions, 1);
});

test('idleness: an assigned partition that never delivers is idle the timeout after its assignment', () => {
  const { clock, time } = idleClock(0, 5_000);
  clock.assign(['t:0', 't:1']);
  time.now += 3_000;
  assert.equal(clock.observe('t:0', 20_000), -Infinity, 't:1 was assigned 3 s ago');
  time.now += 1_999;
  assert.equal(clock.tick(), -Infinity);
  time.now += 1;
  assert.equal(clock.tick(), 20_000, 't:1 assigned 5 s ago and unseen; t:0 delivered 2 s ago');
  // A partition newly assigned by a rebalance gets its own full timeout, an old one keeps its time.
  time.now += 1_000;
  clock.assign(['t:0', 't:1', 't:2']);
  assert.equal(clock.observe('t:0', 30_000), 20_000, 't:2 (unseen, just assigned) holds it');
  time.now += 5_000;
  assert.equal(clock.observe('t:0', 31_000), 31_000, 't:2 and t:1 idle');
  assert.equal(clock.idlePartitions, 2);
});

test('idleness: a partition that delivers again rejoins; the watermark never goes back', () => {
  const { clock, time } = idleClock(0, 1_000);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 100_000);
  clock.observe('t:1', 5_000);
  time.now += 1_000;
  assert.equal(clock.observe('t:0', 100_000), 100_000, 't:1 idle');
  // t:1 rejoins with old records (they are late downstream): the watermark holds, not backwards.
  assert.equal(clock.observe('t:1', 7_000), 100_000);
  assert.equal(clock.idlePartitions, 0);
  assert.equal(clock.observe('t:0', 200_000), 100_000, 't:1 (7,000) is active again and the slowest');
  assert.equal(clock.observe('t:1', 150_000), 150_000, 'min(200,000, 150,000)');
  // touch keeps a partition active without an event time (records queued, not yet observed).
  time.now += 900;
  clock.touch('t:1');
  time.now += 900;
  assert.equal(clock.observe('t:0', 300_000), 150_000, 't:1 touched 900 ms ago: still active');
});

test('idleness: when every assigned partition is idle the watermark stays where it is', () => {
  const { clock, time } = idleClock(500, 1_000);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 10_000);
  clock.observe('t:1', 20_000);
  assert.equal(clock.watermark, 9_500);
  time.now += 60_000;
  assert.equal(clock.tick(), 9_500, 'never +Infinity, never t:1 alone without evidence');
  assert.equal(clock.idlePartitions, 2);
  assert.equal(clock.observe('t:1', 20_000), 19_500, 't:1 delivers again: it alone is active');
});

test('idleness: all idle at the next evaluation holds the value from just before the last went idle', () => {
  const { clock, time } = idleClock(0, 1_000);
  clock.assign(['t:0', 't:1', 't:2']);
  clock.observe('t:0', 10_000);
  clock.observe('t:1', 40_000);
  clock.observe('t:2', 30_000);
  time.now += 200;
  clock.observe('t:1', 40_000);
  clock.observe('t:2', 35_000);
  assert.equal(clock.watermark, 10_000);
  // No evaluation between t:0 going idle (+1,000) and t:1, t:2 going idle (+1,200): a continuous
  // evaluation would have seen min(40,000, 35,000) in between, and that is where it stops.
  time.now += 5_000;
  assert.equal(clock.tick(), 35_000);
  time.now += 60_000;
  assert.equal(clock.tick(), 35_000, 'and stays');
});

test('idleness: a timeout of 0 disables it; an unseen partition holds the watermark for ever', () => {
  const { clock, time } = idleClock(0, 0);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 10_000);
  time.now += 3_600_000;
  assert.equal(clock.tick(), -Infinity);
  assert.equal(clock.idlePartitions, 0);
});

test('idleness: time while the idle clock is paused (backpressure) does not count', () => {
  const { clock, time } = idleClock(0, 1_000);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 10_000);
  clock.observe('t:1', 20_000);
  time.now += 500;
  clock.pauseIdleness();
  clock.pauseIdleness(); // nested
  time.now += 10_000;
  clock.resumeIdleness();
  assert.equal(clock.observe('t:1', 30_000), 10_000, 'still paused (one resume left)');
  clock.resumeIdleness();
  time.now += 499;
  assert.equal(clock.observe('t:1', 30_000), 10_000, 't:0 silent for 999 ms of unpaused time');
  time.now += 1;
  assert.equal(clock.tick(), 30_000);
});

test('idleness: the watermark is monotonic and matches a reference over random deliveries and silences', () => {
  const keys = ['a', 'b', 'c'];
  const timeout = 700;
  const { clock, time } = idleClock(250, timeout);
  clock.assign(keys);
  const assignedAt = time.now;
  const maxima = new Map<string, number>();
  const lastSeen = new Map<string, number>();
  const idleCounts = new Set<number>();
  let previous = -Infinity;
  let state = 987654;
  // The high bits of the LCG: its low bits repeat with a short period.
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 8;
  for (let i = 0; i < 5_000; i++) {
    time.now += next() % 20 === 0 ? 700 + (next() % 400) : next() % 150; // sometimes everything goes silent
    let watermark: number;
    if (next() % 4 === 0) {
      watermark = clock.tick();
    } else {
      const key = keys[next() % 8 === 0 ? 0 : 1 + (next() % 2)]!; // 'a' delivers rarely
      const eventTime = 1_000 + i * 10 - (next() % 2_000);
      maxima.set(key, Math.max(maxima.get(key) ?? -Infinity, eventTime));
      lastSeen.set(key, time.now);
      watermark = clock.observe(key, eventTime);
    }
    // Continuous semantics: with every partition idle, those that went idle last count.
    const seenAt = (k: string) => lastSeen.get(k) ?? assignedAt;
    const active = keys.filter((k) => time.now - seenAt(k) < timeout);
    const latest = Math.max(...keys.map(seenAt));
    const counted = active.length > 0 ? active : keys.filter((k) => seenAt(k) === latest);
    const least = Math.min(...counted.map((k) => maxima.get(k) ?? -Infinity)) - 250;
    assert.equal(watermark, Math.max(previous, least), `step ${i}`);
    assert.equal(clock.idlePartitions, keys.length - active.length);
    idleCounts.add(active.length);
    previous = watermark;
  }
  assert.deepEqual([...idleCounts].sort(), [0, 1, 2, 3], '0, 1, 2 and 3 active partitions all occurred');
});

test('a new assignment (a rejoin after a broker outage) gives every partition a full idle timeout again', () => {
  let now = 0;
  const clock = new EventTimeClock(0, { idleTimeoutMs: 30_000, now: () => now });
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 1_000);
  clock.observe('t:1', 1_000);
  now = 40_000; // the broker was down: nothing delivered for longer than the timeout
  clock.assign(['t:0', 't:1']); // the consumer rejoined
  assert.equal(clock.observe('t:0', 90_000), 1_000, 't:1 is not idle: the first partition back must not move the watermark past it');
  now = 60_000;
  assert.equal(clock.observe('t:0', 95_000), 1_000);
  now = 69_999;
  assert.equal(clock.tick(), 1_000);
  now = 70_000;
  assert.equal(clock.tick(), 95_000, 't:1 idle after a full timeout from the rejoin');
});

test("each partition's watermark is its own, not the minimum over the others", () => {
  const clock = new EventTimeClock(1_000);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 10_000);
  clock.observe('t:1', 30_000);
  assert.equal(clock.watermark, 9_000);
  assert.equal(clock.watermarkOf('t:0'), 9_000);
  assert.equal(clock.watermarkOf('t:1'), 29_000);
  clock.observe('t:1', 20_000);
  assert.equal(clock.watermarkOf('t:1'), 29_000, 'never backwards');
});

test('an idle partition follows the topology watermark; when it delivers again it does not go back', () => {
  const { clock, time } = idleClock(1_000, 2_000);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 50_000);
  clock.observe('t:1', 10_000);
  assert.equal(clock.watermarkOf('t:1'), 9_000);
  time.now += 2_000;
  clock.observe('t:0', 60_000);
  assert.equal(clock.tick(), 59_000, 't:1 is idle');
  assert.equal(clock.watermarkOf('t:1'), 59_000, 'the idle partition follows the topology watermark');
  clock.observe('t:1', 12_000);
  assert.equal(clock.watermarkOf('t:1'), 59_000, 'delivering again: its records are late against 59 s');
});

test("a partition's clock is checkpointed on its own and restored on another instance", () => {
  const clock = new EventTimeClock(1_000);
  clock.assign(['t:0', 't:1']);
  clock.observe('t:0', 10_000);
  clock.watermarkOf('t:0');
  const state = clock.partitionSnapshot('t:0');
  assert.deepEqual(state, { max: 10_000, watermark: 9_000 });
  const other = new EventTimeClock(1_000);
  other.assign(['t:0']);
  other.restorePartition('t:0', state);
  assert.equal(other.watermarkOf('t:0'), 9_000);
  other.observe('t:0', 9_500);
  assert.equal(other.watermarkOf('t:0'), 9_000, 'an older record does not move it back');
  clock.assign(['t:1']);
  assert.deepEqual(clock.partitionSnapshot('t:0'), { max: -Infinity, watermark: -Infinity }, 'a revoked partition forgets its clock');
});
