import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRows, runKilledTwice } from '../helpers/kafka-sink-run.ts';

test('kafka topic sink, at-least-once: under the same two SIGKILLs no window is lost; duplicates (identical) are counted and reported', { timeout: 600_000 }, async (t) => {
  const { records, reference, rows } = await runKilledTwice(t, { exactlyOnce: false, isolation: 'read_uncommitted' });
  const byWindow = matchRows(records, rows, reference);
  const duplicates = records.length - byWindow.size;
  console.log(`[kafka-sink] at-least-once after two SIGKILLs: ${records.length} records for ${reference.length} windows: ${duplicates} duplicate records over ${[...byWindow.values()].filter((c) => c.length > 1).length} windows`);
  assert.equal(byWindow.size, reference.length, 'every window at least once');
  assert.ok(records.length >= reference.length);
});
