/**
 * Marble tests for sessionWindows (emit 'final'): window [first, last + gap), closed when the
 * watermark reaches its end + grace; rows carry no revision.
 *
 * Virtual time is frame time: each letter is one input Batch (one source fetch); output letter
 * X is the summary of the batch emitted for input letter x. Event time is in the records
 * (`key@eventTime=value`) and each frame's watermark (`wm`); only those close sessions. Helpers
 * and the summary format: ./marble-helpers.ts.
 */
import { test } from 'node:test';
import { sessionWindows } from '../../../src/operators/windows/session.ts';
import { batches, frame, marbles, nAndS, summarize, summary } from './marble-helpers.ts';

test('sessionWindows (gap 5, grace 2): out-of-order extension, a bridging record merges two sessions, in-grace and late records', () => {
  marbles((helpers) => {
    // frame  wm  records              note
    //   a    10  a@10=1 a@20=2        two sessions of a: [10,15) and [20,25)
    //   b    14  a@12=4               out of order: extends the first to [10,17)
    //   c    18  a@16=8               bridges: within gap of 12 and of 20 -> one session [10,25)
    //   d    19  b@3=16 b@12=32       b@3 alone and 3 + 5 + 2 <= 16 (wm 18 - grace) -> late;
    //                                 b@12 in grace: [12,17) ended (17 <= 18) but 17 + 2 > 18; wm 19 closes it
    //   e    27  (none)               wm 27 closes a's merged session (25 + 2 <= 27)
    const frames = {
      a: frame(10, 'a@10=1', 'a@20=2'),
      b: frame(14, 'a@12=4'),
      c: frame(18, 'a@16=8'),
      d: frame(19, 'b@3=16', 'b@12=32'),
      e: frame(27),
    };
    const input = '  a-b-c-d-e|';
    const output = ' A-B-C-D-E|';
    const expected = {
      A: summary(10),
      B: summary(14),
      C: summary(18),
      D: summary(19, ['b@12-17:n=1:s=32'], ['b@3']),
      E: summary(27, ['a@10-25:n=4:s=15']),
    };
    const out = batches(helpers, input, frames).pipe(sessionWindows({ gap: 5, grace: 2 }, nAndS()), summarize());
    helpers.expectObservable(out).toBe(output, expected);
  });
});

test('sessionWindows (gap 5, grace 0): a record touching an open session is never late; rows close by window end, then key', () => {
  marbles((helpers) => {
    // frame  wm  records              note
    //   a    18  a@10=1 a@14=2 a@18=4 one session [10,23)
    //   b    22  a@6=8 c@2=16         a@6 alone would be late (6 + 5 <= 18) but is within gap of 10:
    //                                 extends the session back to [6,23); c@2 touches nothing -> late
    //   c    23  d@20=128 b@20=32 c@19=64   all on time (ends 25, 25, 24 > 22); wm 23 closes a
    //   d    30  (none)               closes c [19,24), then b and d [20,25) in key order
    const frames = {
      a: frame(18, 'a@10=1', 'a@14=2', 'a@18=4'),
      b: frame(22, 'a@6=8', 'c@2=16'),
      c: frame(23, 'd@20=128', 'b@20=32', 'c@19=64'),
      d: frame(30),
    };
    const input = '  a-b-c-d|';
    const output = ' A-B-C-D|';
    const expected = {
      A: summary(18),
      B: summary(22, [], ['c@2']),
      C: summary(23, ['a@6-23:n=4:s=15']),
      D: summary(30, ['c@19-24:n=1:s=64', 'b@20-25:n=1:s=32', 'd@20-25:n=1:s=128']),
    };
    const out = batches(helpers, input, frames).pipe(sessionWindows({ gap: 5 }, nAndS()), summarize());
    helpers.expectObservable(out).toBe(output, expected);
  });
});
