import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackgroundTurns } from '../../../src/sinks/background-turns.ts';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('jobs run in slices of rows, in the order given, and settle when their last slice ran', async () => {
  const turns = new BackgroundTurns(Infinity, 3);
  const slices: string[] = [];
  const a = turns.run(7, (from, to) => void slices.push(`a${from}-${to}`));
  const b = turns.run(2, (from, to) => void slices.push(`b${from}-${to}`));
  assert.deepEqual(slices, [], 'nothing runs in the caller');
  await Promise.all([a, b]);
  assert.deepEqual(slices, ['a0-3', 'a3-6', 'a6-7', 'b0-2']);
  assert.equal(turns.pending, 0);
});

test('a turn ends after its time slice: work scheduled meanwhile runs between turns', async () => {
  // No time at all: one slice a turn.
  const turns = new BackgroundTurns(0, 1);
  const events: string[] = [];
  const done = turns.run(3, (from) => void events.push(`row ${from}`));
  void turn().then(() => events.push('other work'));
  await done;
  assert.deepEqual(events, ['row 0', 'other work', 'row 1', 'row 2']);
});

test('a slice that throws rejects its job only; the next job still runs', async () => {
  const turns = new BackgroundTurns(Infinity, 2);
  const ran: number[] = [];
  const failing = turns.run(4, (from) => {
    if (from === 2) throw new RangeError('bad row');
    ran.push(from);
  });
  const next = turns.run(1, (from) => void ran.push(100 + from));
  await assert.rejects(failing, RangeError);
  await next;
  assert.deepEqual(ran, [0, 100]);
});
