import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventTimeClock } from '../../../src/runtime/event-time-clock.ts';

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

test('a partition assigned again keeps what it already delivered', () => {
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
