/**
 * Marble tests for tumbling windows + aggregate, emit 'final', 'current' and allowed lateness.
 *
 * Virtual time is frame time: each letter is one input Batch (one source fetch); output letter
 * X is the summary of the batch emitted for input letter x. Event time is in the records
 * (`key@eventTime=value`) and each frame's watermark (`wm`); only those close windows. Helpers
 * and the summary format: ./marble-helpers.ts.
 */
import { test } from 'node:test';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { tumbling } from '../../../src/operators/windows/tumbling.ts';
import { batches, frame, marbles, nAndS, summarize, summary } from './marble-helpers.ts';

test("tumbling 'final' (size 10, grace 5): out-of-order and in-grace records join; a record past end + grace is late", () => {
  marbles((helpers) => {
    // frame  wm  records              note
    //   a     2  a@1=1 a@12=2
    //   b    11  a@4=4 b@3=8          a@4 out of order (a@12 already seen); [0,10) still open
    //   c    16  a@7=16               in grace: [0,10) ended (10 <= wm 11) but 10 + 5 > 11; wm 16 closes [0,10)
    //   d    25  a@5=32 a@18=64       a@5 beyond: 10 + 5 <= wm 16 -> late; wm 25 closes [10,20)
    //   e    40  (none)               nothing left to close
    const frames = {
      a: frame(2, 'a@1=1', 'a@12=2'),
      b: frame(11, 'a@4=4', 'b@3=8'),
      c: frame(16, 'a@7=16'),
      d: frame(25, 'a@5=32', 'a@18=64'),
      e: frame(40),
    };
    const input = '  a-b-c-d-e|';
    const output = ' A-B-C-D-E|';
    const expected = {
      A: summary(2),
      B: summary(11),
      C: summary(16, ['a@0-10:n=3:s=21:r0', 'b@0-10:n=1:s=8:r0']),
      D: summary(25, ['a@10-20:n=2:s=66:r0'], ['a@5']),
      E: summary(40),
    };
    const out = batches(helpers, input, frames).pipe(tumbling(10, { grace: 5 }), aggregate(nAndS()), summarize());
    helpers.expectObservable(out).toBe(output, expected);
  });
});

test("tumbling 'current' (size 10, grace 5): every change re-emits with the next revision; the close repeats nothing", () => {
  marbles((helpers) => {
    // frame  wm  records              note
    //   a     2  a@1=1 b@2=2          both keys' first rows (r0), keys in first-seen order
    //   b    11  a@12=4 a@3=8         a@3 out of order: [0,10) a r1, then [10,20) a r0 (window-end order)
    //   c    16  b@8=16               in grace (wm before 11 < 10 + 5): b r1; wm 16 makes [0,10) final
    //   d    17  a@6=32 a@14=64       a@6 beyond (10 + 5 <= 16) -> late; a@14 updates [10,20) a r1
    //   e    30  (none)               [10,20) closes: 'current' emits nothing at the close
    const frames = {
      a: frame(2, 'a@1=1', 'b@2=2'),
      b: frame(11, 'a@12=4', 'a@3=8'),
      c: frame(16, 'b@8=16'),
      d: frame(17, 'a@6=32', 'a@14=64'),
      e: frame(30),
    };
    const input = '  a-b-c-d-e|';
    const output = ' A-B-C-D-E|';
    const expected = {
      A: summary(2, ['a@0-10:n=1:s=1:r0', 'b@0-10:n=1:s=2:r0']),
      B: summary(11, ['a@0-10:n=2:s=9:r1', 'a@10-20:n=1:s=4:r0']),
      C: summary(16, ['b@0-10:n=2:s=18:r1']),
      D: summary(17, ['a@10-20:n=2:s=68:r1'], ['a@6']),
      E: summary(30),
    };
    const out = batches(helpers, input, frames).pipe(tumbling(10, { grace: 5, emit: 'current' }), aggregate(nAndS()), summarize());
    helpers.expectObservable(out).toBe(output, expected);
  });
});

test("tumbling 'final' with allowedLateness (size 10, grace 2, lateness 10): updates after the close re-emit as revision 1", () => {
  marbles((helpers) => {
    // frame  wm  records              note
    //   a     5  a@1=1 a@12=2
    //   b    11  a@3=4 b@4=8          a@3 out of order
    //   c    13  a@8=16               in grace (10 <= 11 < 10 + 2); wm 13 closes [0,10): every key, r0
    //   d    15  a@6=32               within lateness (10 + 2 + 10 > 13): a re-emitted as r1, full aggregate
    //   e    24  b@2=64 c@5=1         within lateness (22 > 15): b r1, c new to the window r0; wm 24 closes [10,20)
    //   f    25  a@7=128              beyond lateness: 10 + 2 + 10 <= 24 -> late, nothing re-emitted
    const frames = {
      a: frame(5, 'a@1=1', 'a@12=2'),
      b: frame(11, 'a@3=4', 'b@4=8'),
      c: frame(13, 'a@8=16'),
      d: frame(15, 'a@6=32'),
      e: frame(24, 'b@2=64', 'c@5=1'),
      f: frame(25, 'a@7=128'),
    };
    const input = '  a-b-c-d-e-f|';
    const output = ' A-B-C-D-E-F|';
    const expected = {
      A: summary(5),
      B: summary(11),
      C: summary(13, ['a@0-10:n=3:s=21:r0', 'b@0-10:n=1:s=8:r0']),
      D: summary(15, ['a@0-10:n=4:s=53:r1']),
      E: summary(24, ['b@0-10:n=2:s=72:r1', 'c@0-10:n=1:s=1:r0', 'a@10-20:n=1:s=2:r0']),
      F: summary(25, [], ['a@7']),
    };
    const out = batches(helpers, input, frames).pipe(tumbling(10, { grace: 2, allowedLateness: 10 }), aggregate(nAndS()), summarize());
    helpers.expectObservable(out).toBe(output, expected);
  });
});

test('tumbling: idle virtual time closes nothing; only the watermark does (no timers), and completion waits for the source', () => {
  marbles((helpers) => {
    // frame  wm  records              note
    //   a     3  a@1=1
    //   b     4  (none)               100 virtual frames later: wm 4 < 10, still open
    //   c    10  (none)               wm reaches the end: [0,10) closes (grace 0)
    const frames = { a: frame(3, 'a@1=1'), b: frame(4), c: frame(10) };
    const input = '  a 100ms b 50ms c 20ms |';
    const output = ' A 100ms B 50ms C 20ms |';
    const expected = { A: summary(3), B: summary(4), C: summary(10, ['a@0-10:n=1:s=1:r0']) };
    const out = batches(helpers, input, frames).pipe(tumbling(10), aggregate(nAndS()), summarize());
    helpers.expectObservable(out).toBe(output, expected);
  });
});

test('tumbling: a source error passes through after the frames before it; open windows are not flushed', () => {
  marbles((helpers) => {
    // frame  wm  records
    //   a     3  a@1=1 a@2=1          open window [0,10), then the source fails at frame 3
    const frames = { a: frame(3, 'a@1=1', 'a@2=1') };
    const failure = new Error('broker gone');
    const out = batches(helpers, ' a-#', frames, failure).pipe(tumbling(10), aggregate(nAndS()), summarize());
    helpers.expectObservable(out).toBe(' A-#', { A: summary(3) }, failure);
  });
});
