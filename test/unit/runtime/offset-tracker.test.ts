import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OffsetTracker } from '../../../src/core/offset-tracker.ts';
import type { AckToken } from '../../../src/core/ack.ts';

/** Tracks consecutive batches of `sizes` records on one partition, starting at `firstOffset`. */
function trackBatches(tracker: OffsetTracker, topic: string, partition: number, sizes: number[], firstOffset = 0n): AckToken[] {
  const tokens: AckToken[] = [];
  let next = firstOffset;
  for (const size of sizes) {
    next += BigInt(size);
    tokens.push(tracker.track(topic, partition, next - 1n, size));
  }
  return tokens;
}

test('a token carries the partition key, last offset and record count', () => {
  const tracker = new OffsetTracker();
  const token = tracker.track('payments', 3, 99n, 10);
  assert.equal(token.partitionKey, 'payments:3');
  assert.equal(token.lastOffset, 99n);
  assert.equal(token.recordCount, 10);
  assert.equal(token.done, false);
});

test('nothing is committable before any batch is acknowledged', () => {
  const tracker = new OffsetTracker();
  assert.deepEqual(tracker.pending(), []);
  trackBatches(tracker, 'payments', 0, [10, 10]);
  assert.deepEqual(tracker.pending(), []);
  assert.equal(tracker.outstanding('payments', 0), 2);
});

test('the committable offset is one past the longest acknowledged prefix, whatever the release order', () => {
  const tracker = new OffsetTracker();
  // offsets 0-9, 10-19, 20-29
  const [first, second, third] = trackBatches(tracker, 'payments', 0, [10, 10, 10]);
  second!.release();
  assert.deepEqual(tracker.pending(), [], 'an acknowledged batch behind an unacknowledged one commits nothing');
  assert.equal(tracker.outstanding('payments', 0), 3);
  first!.release();
  assert.deepEqual(tracker.pending(), [{ topic: 'payments', partition: 0, offset: '20' }]);
  assert.equal(tracker.outstanding('payments', 0), 1);
  third!.release();
  assert.deepEqual(tracker.pending(), [{ topic: 'payments', partition: 0, offset: '30' }]);
  assert.equal(tracker.outstanding('payments', 0), 0);
});

test('a batch still retained downstream holds back every later offset', () => {
  const tracker = new OffsetTracker();
  const [first, second] = trackBatches(tracker, 't', 0, [5, 5]);
  first!.retain(); // an open window keeps a record of the first batch
  first!.release(); // the source is done with it
  second!.release();
  assert.deepEqual(tracker.pending(), []);
  first!.release(); // the window closed and the sink acknowledged
  assert.deepEqual(tracker.pending(), [{ topic: 't', partition: 0, offset: '10' }]);
});

test('pending reports only offsets that advanced since markCommitted', () => {
  const tracker = new OffsetTracker();
  const [a, b, c] = trackBatches(tracker, 'orders', 1, [3, 4, 5], 100n); // 100-102, 103-106, 107-111
  a!.release();
  const first = tracker.pending();
  assert.deepEqual(first, [{ topic: 'orders', partition: 1, offset: '103' }]);
  assert.deepEqual(tracker.pending(), first, 'pending does not consume offsets by itself');
  tracker.markCommitted(first);
  assert.deepEqual(tracker.pending(), []);
  c!.release();
  assert.deepEqual(tracker.pending(), []);
  b!.release();
  assert.deepEqual(tracker.pending(), [{ topic: 'orders', partition: 1, offset: '112' }]);
});

test('markCommitted never moves a partition backwards and ignores unknown partitions', () => {
  const tracker = new OffsetTracker();
  const [a, b] = trackBatches(tracker, 't', 0, [10, 10]);
  a!.release();
  b!.release();
  tracker.markCommitted([{ topic: 't', partition: 0, offset: '20' }]);
  tracker.markCommitted([{ topic: 't', partition: 0, offset: '5' }]);
  assert.deepEqual(tracker.pending(), []);
  tracker.markCommitted([{ topic: 'other', partition: 9, offset: '5' }]);
  assert.deepEqual(tracker.pending(), []);
});

test('a commit of an older offset leaves the newer one pending', () => {
  const tracker = new OffsetTracker();
  const [a, b] = trackBatches(tracker, 't', 0, [10, 10]);
  a!.release();
  const older = tracker.pending();
  b!.release();
  tracker.markCommitted(older);
  assert.deepEqual(tracker.pending(), [{ topic: 't', partition: 0, offset: '20' }]);
});

test('partitions and topics are tracked independently', () => {
  const tracker = new OffsetTracker();
  const [p0a] = trackBatches(tracker, 'payments', 0, [10]);
  const [p1a, p1b] = trackBatches(tracker, 'payments', 1, [2, 2], 50n);
  const [o0a] = trackBatches(tracker, 'orders', 0, [1], 7n);
  p1b!.release();
  o0a!.release();
  assert.deepEqual(tracker.pending(), [{ topic: 'orders', partition: 0, offset: '8' }]);
  p1a!.release();
  p0a!.release();
  const byKey = new Map(tracker.pending().map((o) => [`${o.topic}:${o.partition}`, o.offset]));
  assert.deepEqual(Object.fromEntries(byKey), { 'payments:0': '10', 'payments:1': '54', 'orders:0': '8' });
  assert.equal(tracker.outstanding('payments', 0), 0);
  assert.equal(tracker.outstanding('never', 0), 0);
});

test('offsets beyond 2^53 are exact', () => {
  const tracker = new OffsetTracker();
  const big = 2n ** 60n + 12345n;
  tracker.track('t', 0, big, 1).release();
  assert.deepEqual(tracker.pending(), [{ topic: 't', partition: 0, offset: (big + 1n).toString() }]);
});

test('retainOnly forgets partitions no longer owned; their late releases are harmless', () => {
  const tracker = new OffsetTracker();
  const [kept] = trackBatches(tracker, 't', 0, [10]);
  const [lost] = trackBatches(tracker, 't', 1, [10]);
  tracker.retainOnly(new Set(['t:0']));
  assert.equal(tracker.outstanding('t', 1), 0);
  lost!.release(); // a batch of the revoked partition finishes after the rebalance
  kept!.release();
  assert.deepEqual(tracker.pending(), [{ topic: 't', partition: 0, offset: '10' }]);
});

test('a partition assigned again starts a fresh log', () => {
  const tracker = new OffsetTracker();
  const [old] = trackBatches(tracker, 't', 0, [10]);
  tracker.retainOnly(new Set());
  const [fresh] = trackBatches(tracker, 't', 0, [5], 40n); // resumed from committed offset 40
  old!.release();
  assert.deepEqual(tracker.pending(), [], 'a stale token does not advance the new log');
  fresh!.release();
  assert.deepEqual(tracker.pending(), [{ topic: 't', partition: 0, offset: '45' }]);
});

test('thousands of batches released in shuffled order (log compaction) commit exactly', () => {
  const tracker = new OffsetTracker();
  const count = 5_000;
  const tokens = trackBatches(tracker, 't', 0, Array.from({ length: count }, () => 2));
  // Deterministic shuffle of the second half; the first half in order (drives compaction).
  const order = Array.from({ length: count }, (_, i) => i);
  let seed = 7;
  for (let i = count - 1; i > count / 2; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const j = count / 2 + (seed % (i - count / 2 + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const released = new Array<boolean>(count).fill(false);
  let prefix = 0;
  for (const index of order) {
    tokens[index]!.release();
    released[index] = true;
    while (prefix < count && released[prefix]) prefix++;
    const expected = prefix === 0 ? [] : [{ topic: 't', partition: 0, offset: String(prefix * 2) }];
    assert.deepEqual(tracker.pending(), expected);
  }
  assert.deepEqual(tracker.pending(), [{ topic: 't', partition: 0, offset: String(count * 2) }]);
  assert.equal(tracker.outstanding('t', 0), 0);
  // Tracking continues correctly after the log was compacted.
  const [later, last] = trackBatches(tracker, 't', 0, [3, 3], BigInt(count * 2));
  last!.release();
  assert.deepEqual(tracker.pending(), [{ topic: 't', partition: 0, offset: String(count * 2) }]);
  later!.release();
  assert.deepEqual(tracker.pending(), [{ topic: 't', partition: 0, offset: String(count * 2 + 6) }]);
});

test('property: committable offset equals the brute-force longest acknowledged prefix', () => {
  const scenario = fc
    .record({
      sizes: fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 60 }),
      firstOffset: fc.bigInt({ min: 0n, max: 2n ** 62n }),
    })
    .chain(({ sizes, firstOffset }) => {
      const indices = sizes.map((_, i) => i);
      return fc.record({
        sizes: fc.constant(sizes),
        firstOffset: fc.constant(firstOffset),
        order: fc.shuffledSubarray(indices, { minLength: indices.length, maxLength: indices.length }),
        commitAfter: fc.array(fc.boolean(), { minLength: indices.length, maxLength: indices.length }),
      });
    });

  fc.assert(
    fc.property(scenario, ({ sizes, firstOffset, order, commitAfter }) => {
      const tracker = new OffsetTracker();
      const tokens = trackBatches(tracker, 'topic', 0, sizes, firstOffset);
      const lastOffsets: bigint[] = [];
      let end = firstOffset;
      for (const size of sizes) lastOffsets.push((end += BigInt(size)) - 1n);

      const released = new Set<number>();
      let committed = -1n; // last offset marked committed
      for (let step = 0; step < order.length; step++) {
        tokens[order[step]!]!.release();
        released.add(order[step]!);
        // Brute force: the longest prefix of batches that are all acknowledged.
        let prefix = 0;
        while (prefix < sizes.length && released.has(prefix)) prefix++;
        const committable = prefix === 0 ? -1n : lastOffsets[prefix - 1]!;
        const expected = committable > committed ? [{ topic: 'topic', partition: 0, offset: (committable + 1n).toString() }] : [];
        assert.deepEqual(tracker.pending(), expected);
        assert.equal(tracker.outstanding('topic', 0), sizes.length - prefix);
        if (commitAfter[step] && expected.length > 0) {
          tracker.markCommitted(tracker.pending());
          committed = committable;
          assert.deepEqual(tracker.pending(), []);
        }
      }
      const all = lastOffsets[lastOffsets.length - 1]! + 1n;
      if (committed + 1n < all) assert.deepEqual(tracker.pending(), [{ topic: 'topic', partition: 0, offset: all.toString() }]);
      else assert.deepEqual(tracker.pending(), []);
      assert.equal(all, firstOffset + BigInt(sizes.reduce((a, b) => a + b, 0)));
    }),
    { numRuns: 300 },
  );
});

test('property: without commits, releasing everything leaves pending at last offset + 1 on every partition', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ partition: fc.integer({ min: 0, max: 3 }), size: fc.integer({ min: 1, max: 20 }) }), { minLength: 1, maxLength: 80 }),
      fc.integer(),
      (batches, seed) => {
        const tracker = new OffsetTracker();
        const nextOffset = new Map<number, bigint>();
        const tokens = batches.map(({ partition, size }) => {
          const last = (nextOffset.get(partition) ?? 0n) + BigInt(size) - 1n;
          nextOffset.set(partition, last + 1n);
          return tracker.track('t', partition, last, size);
        });
        // Release in an order derived from the seed (Fisher-Yates with an LCG).
        let state = seed >>> 0;
        for (let i = tokens.length - 1; i > 0; i--) {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
          const j = state % (i + 1);
          [tokens[i], tokens[j]] = [tokens[j]!, tokens[i]!];
        }
        for (const token of tokens) token.release();
        const pending = Object.fromEntries(tracker.pending().map((o) => [o.partition, o.offset]));
        const expected = Object.fromEntries([...nextOffset].map(([partition, next]) => [partition, next.toString()]));
        assert.deepEqual(pending, expected);
      },
    ),
    { numRuns: 300 },
  );
});
