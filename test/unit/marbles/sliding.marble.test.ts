/**
 * Marble tests for sliding (one result per record over its key's records in (t - size, t] that
 * arrived before it, and itself; windowStart = t - size + 1, windowEnd = t + 1; no revision).
 *
 * Virtual time is frame time: each letter is one input Batch (one source fetch); output letter
 * X is the summary of the batch emitted for input letter x. Event time is in the records
 * (`key@eventTime=value`) and each frame's watermark (`wm`), which decides lateness. Helpers
 * and the summary format: ./marble-helpers.ts.
 */
import { test } from 'node:test';
import { sliding } from '../../../src/operators/windows/sliding.ts';
import { batches, frame, marbles, nAndS, summarize, summary } from './marble-helpers.ts';

test('sliding (size 10, grace 3): out-of-order and in-grace records get exact results; a late record gets none and is never counted', () => {
  marbles((helpers) => {
    // frame  wm  records              note
    //   a    10  a@10=1 a@15=2        one result each, at once
    //   b    15  a@12=4               out of order: (2,12] holds 10 and itself, not 15
    //   c    16  a@13=8               in grace: 13 < wm 15 but 13 + 3 >= 15 -> (3,13]: 10, 12, 13
    //   d    20  a@11=16 a@20=32      a@11 beyond: 11 + 3 < 16 -> late; a@20: (10,20]: 12, 13, 15, 20
    //   e    21  a@19=64              in grace again: (9,19]: 10, 12, 13, 15, 19 (the late a@11 is absent)
    const frames = {
      a: frame(10, 'a@10=1', 'a@15=2'),
      b: frame(15, 'a@12=4'),
      c: frame(16, 'a@13=8'),
      d: frame(20, 'a@11=16', 'a@20=32'),
      e: frame(21, 'a@19=64'),
    };
    const input = '  a-b-c-d-e|';
    const output = ' A-B-C-D-E|';
    const expected = {
      A: summary(10, ['a@1-11:n=1:s=1', 'a@6-16:n=2:s=3']),
      B: summary(15, ['a@3-13:n=2:s=5']),
      C: summary(16, ['a@4-14:n=3:s=13']),
      D: summary(20, ['a@11-21:n=4:s=46'], ['a@11']),
      E: summary(21, ['a@10-20:n=5:s=79']),
    };
    const out = batches(helpers, input, frames).pipe(sliding({ size: 10, grace: 3 }, nAndS()), summarize());
    helpers.expectObservable(out).toBe(output, expected);
  });
});

test('sliding (size 10, grace 0): keys are independent, t - size is outside the window, t == watermark is on time', () => {
  marbles((helpers) => {
    // frame  wm  records              note
    //   a    30  a@20=1 b@25=2 a@30=4 a@30's window (20,30] excludes a@20; b is its own key
    //   b    30  a@30=8               t == wm before: on time; equal times both count: n=2
    //   c    31  b@29=16              29 < wm 30 with grace 0 -> late, no result
    const frames = {
      a: frame(30, 'a@20=1', 'b@25=2', 'a@30=4'),
      b: frame(30, 'a@30=8'),
      c: frame(31, 'b@29=16'),
    };
    const input = '  a-b-c|';
    const output = ' A-B-C|';
    const expected = {
      A: summary(30, ['a@11-21:n=1:s=1', 'b@16-26:n=1:s=2', 'a@21-31:n=1:s=4']),
      B: summary(30, ['a@21-31:n=2:s=12']),
      C: summary(31, [], ['b@29']),
    };
    const out = batches(helpers, input, frames).pipe(sliding({ size: 10 }, nAndS()), summarize());
    helpers.expectObservable(out).toBe(output, expected);
  });
});
