import { test } from 'node:test';
import assert from 'node:assert/strict';
import { holdEarliest, type AckToken } from '../../../src/core/ack.ts';
import { OffsetTracker } from '../../../src/core/offset-tracker.ts';

/** The offset the tracker would commit for t:0 and t:1 now (next offset to read), or undefined. */
function committable(tracker: OffsetTracker): Record<string, string> {
  return Object.fromEntries(tracker.pending().map((o) => [`${o.topic}:${o.partition}`, o.offset]));
}

test('holding each partition’s earliest batch holds back every later offset of that partition, and nothing of another', () => {
  const tracker = new OffsetTracker();
  // Three fetches of partition 0 (offsets 0-9, 10-19, 20-29) and one of partition 1 (0-4), all in one open window.
  const p0 = [tracker.track('t', 0, 9n, 10), tracker.track('t', 0, 19n, 10), tracker.track('t', 0, 29n, 10)];
  const p1 = tracker.track('t', 1, 4n, 5);
  const held: AckToken[] = [];
  for (const token of [...p0, p1]) holdEarliest(held, token);
  assert.deepEqual(held, [p0[0], p1], 'one token per partition: its earliest');
  // The source lets go of each batch once it passed the pipeline; only the window holds them now.
  for (const token of [...p0, p1]) token.release();
  assert.deepEqual(committable(tracker), {}, 'no offset of either partition can commit while the window is open');
  assert.equal(p0[1]!.done, true, 'later batches are not retained themselves');
  // The window closes and its rows reach every sink: both partitions commit through their last batch.
  for (const token of held) token.release();
  assert.deepEqual(committable(tracker), { 't:0': '30', 't:1': '5' });
});

test('a batch of lower offset arriving later (a re-read) replaces the held one, which is released', () => {
  const tracker = new OffsetTracker();
  const later = tracker.track('t', 0, 19n, 10);
  const held: AckToken[] = [];
  holdEarliest(held, later);
  const earlier = tracker.track('t', 0, 9n, 10);
  holdEarliest(held, earlier);
  assert.deepEqual(held, [earlier]);
  later.release();
  assert.equal(later.done, true);
  earlier.release();
  assert.equal(earlier.done, false, 'still held by the window');
  held[0]!.release();
  assert.equal(earlier.done, true);
});
