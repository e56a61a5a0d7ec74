/**
 * Marble tests for hopping windows + aggregate (size 10 every 5: each record is in two windows).
 *
 * Virtual time is frame time: each letter is one input Batch (one source fetch); output letter
 * X is the summary of the batch emitted for input letter x. Event time is in the records
 * (`key@eventTime=value`) and each frame's watermark (`wm`); only those close windows. Helpers
 * and the summary format: ./marble-helpers.ts.
 */
import { test } from 'node:test';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { hopping } from '../../../src/operators/windows/hopping.ts';
import { batches, frame, marbles, nAndS, summarize, summary } from './marble-helpers.ts';

test("hopping 'final' (size 10, hop 5, grace 2): overlapping windows close in end order; in-grace joins, beyond is late", () => {
  marbles((helpers) => {
    // frame  wm  records              note
    //   a    12  a@11=1 a@17=2        windows of a@11: [5,15) [10,20); of a@17: [10,20) [15,25)
    //   b    17  a@13=4 b@16=8        a@13 out of order; wm 17 closes [5,15) (15 + 2 <= 17)
    //   c    21  b@22=32              [10,20) ended (20 <= 21) but is in grace (20 + 2 > 21)
    //   d    27  a@19=16 a@9=64       a@19 in grace -> joins [10,20) and [15,25); a@9's last window
    //                                 [5,15) is past 15 + 2 <= 21 -> late; wm 27 closes [10,20) and [15,25)
    //   e    40  (none)               closes [20,30)
    const frames = {
      a: frame(12, 'a@11=1', 'a@17=2'),
      b: frame(17, 'a@13=4', 'b@16=8'),
      c: frame(21, 'b@22=32'),
      d: frame(27, 'a@19=16', 'a@9=64'),
      e: frame(40),
    };
    const input = '  a-b-c-d-e|';
    const output = ' A-B-C-D-E|';
    const expected = {
      A: summary(12),
      B: summary(17, ['a@5-15:n=2:s=5:r0']),
      C: summary(21),
      D: summary(27, ['a@10-20:n=4:s=23:r0', 'b@10-20:n=1:s=8:r0', 'a@15-25:n=2:s=18:r0', 'b@15-25:n=2:s=40:r0'], ['a@9']),
      E: summary(40, ['b@20-30:n=1:s=32:r0']),
    };
    const out = batches(helpers, input, frames).pipe(hopping(10, 5, { grace: 2 }), aggregate(nAndS()), summarize());
    helpers.expectObservable(out).toBe(output, expected);
  });
});

test("hopping 'final' with allowedLateness (size 10, hop 5, lateness 5): a late update re-emits only its windows still open to it", () => {
  marbles((helpers) => {
    // frame  wm  records              note
    //   a    12  a@12=1               in [5,15) and [10,20)
    //   b    15  (none)               closes [5,15): r0
    //   c    16  a@8=2                in [0,10) (final: 10 + 5 <= 15) and [5,15) (15 + 5 > 15): only [5,15) r1
    //   d    20  a@4=4                last window [0,10): 10 + 5 <= 16 -> late; wm 20 closes [10,20)
    //   e    21  a@14=8               in [5,15) (final: 15 + 5 <= 20) and [10,20) (20 + 5 > 20): only [10,20) r1
    const frames = {
      a: frame(12, 'a@12=1'),
      b: frame(15),
      c: frame(16, 'a@8=2'),
      d: frame(20, 'a@4=4'),
      e: frame(21, 'a@14=8'),
    };
    const input = '  a-b-c-d-e|';
    const output = ' A-B-C-D-E|';
    const expected = {
      A: summary(12),
      B: summary(15, ['a@5-15:n=1:s=1:r0']),
      C: summary(16, ['a@5-15:n=2:s=3:r1']),
      D: summary(20, ['a@10-20:n=1:s=1:r0'], ['a@4']),
      E: summary(21, ['a@10-20:n=2:s=9:r1']),
    };
    const out = batches(helpers, input, frames).pipe(hopping(10, 5, { allowedLateness: 5 }), aggregate(nAndS()), summarize());
    helpers.expectObservable(out).toBe(output, expected);
  });
});
