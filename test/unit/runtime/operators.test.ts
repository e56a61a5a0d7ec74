import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { AckToken } from '../../../src/core/ack.ts';
import { newSideOutputs, type Batch, type StreamRecord } from '../../../src/core/batch.ts';
import { map } from '../../../src/operators/map.ts';
import { filter } from '../../../src/operators/filter.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { joinWindows } from '../../../src/operators/windows/join-windows.ts';
import type { WindowResult } from '../../../src/operators/windows/aggregate.ts';

interface Payment {
  card: string;
  amount: number;
}

function record<T>(value: T, offset: number, extra: Partial<StreamRecord<T>> = {}): StreamRecord<T> {
  return { value, key: '', eventTime: 1_000 + offset, topic: 'payments', partition: 2, offset: String(offset), ...extra };
}

function batchOf<T>(records: StreamRecord<T>[], watermark = 500, acks: AckToken[] = [new AckToken('payments:2', 99n, records.length, () => {})]): Batch<T> {
  return { records, watermark, acks, side: newSideOutputs() };
}

/** Subscribes to `output` and collects what it emits. */
function collect<T>(output: { subscribe: Subject<Batch<T>>['subscribe'] }) {
  const batches: Batch<T>[] = [];
  const state = { completed: false, error: undefined as unknown };
  const subscription = output.subscribe({
    next: (batch) => batches.push(batch),
    error: (error) => (state.error = error),
    complete: () => (state.completed = true),
  });
  return { batches, state, subscription };
}

const payments = [record<Payment>({ card: 'c1', amount: 10 }, 0), record<Payment>({ card: 'c2', amount: 250 }, 1), record<Payment>({ card: 'c1', amount: 30 }, 2)];

// ---------------------------------------------------------------- map

test('map transforms values and keeps each record\'s provenance', () => {
  const input = new Subject<Batch<Payment>>();
  const seen: Array<StreamRecord<Payment>> = [];
  const { batches } = collect(input.pipe(map((p: Payment, r) => (seen.push(r), p.amount * 100))));
  const batch = batchOf(payments.map((r) => ({ ...r, key: r.value.card })));
  input.next(batch);
  assert.equal(batches.length, 1);
  const out = batches[0]!;
  assert.deepEqual(out.records, [
    { value: 1_000, key: 'c1', eventTime: 1_000, topic: 'payments', partition: 2, offset: '0' },
    { value: 25_000, key: 'c2', eventTime: 1_001, topic: 'payments', partition: 2, offset: '1' },
    { value: 3_000, key: 'c1', eventTime: 1_002, topic: 'payments', partition: 2, offset: '2' },
  ]);
  assert.equal(out.watermark, 500);
  assert.equal(out.acks, batch.acks, 'acks pass through');
  assert.equal(out.side, batch.side, 'side outputs pass through');
  assert.deepEqual(seen, batch.records, 'the function receives the whole record');
  assert.deepEqual(batch.records[0]!.value, { card: 'c1', amount: 10 }, 'the input is not mutated');
});

test('map emits one batch per input batch, empty ones included', () => {
  const input = new Subject<Batch<Payment>>();
  const { batches } = collect(input.pipe(map((p: Payment) => p.card)));
  input.next(batchOf([], 100, []));
  input.next(batchOf(payments.slice(0, 1), 200));
  input.next(batchOf([], 300, []));
  assert.deepEqual(batches.map((b) => [b.records.length, b.watermark]), [[0, 100], [1, 200], [0, 300]]);
});

test('a throwing map function dead-letters only that record', () => {
  const input = new Subject<Batch<Payment>>();
  const { batches, state } = collect(
    input.pipe(
      map(
        (p: Payment) => {
          if (p.amount > 100) throw new Error(`amount ${p.amount} too large`);
          return p.amount;
        },
        { name: 'cents' },
      ),
    ),
  );
  const batch = batchOf(payments.map((r) => ({ ...r, key: r.value.card })));
  input.next(batch);
  assert.equal(state.error, undefined, 'the stream goes on');
  assert.deepEqual(batches[0]!.records.map((r) => r.value), [10, 30]);
  assert.deepEqual(batch.side.deadLetters, [
    { step: 'cents', topic: 'payments', partition: 2, offset: '1', error: 'amount 250 too large', raw: null, key: 'c2', timestamp: 1_001 },
  ]);
  assert.equal(batches[0]!.side.deadLetters, batch.side.deadLetters);
});

test('the default step names are map, filter and keyBy; non-Error throws are stringified', () => {
  const input = new Subject<Batch<Payment>>();
  const batch = batchOf(payments.slice(0, 1));
  collect(input.pipe(map(() => { throw 'nope'; })));
  collect(input.pipe(filter(() => { throw new RangeError('bad predicate'); })));
  collect(input.pipe(keyBy(() => { throw 42; })));
  input.next(batch);
  assert.deepEqual(batch.side.deadLetters.map((d) => [d.step, d.error, d.offset]), [
    ['map', 'nope', '0'],
    ['filter', 'bad predicate', '0'],
    ['keyBy', '42', '0'],
  ]);
});

test('operators forward errors and completion and unsubscribe from their source', () => {
  for (const operator of [map((p: Payment) => p), filter((p: Payment) => p.amount > 0), keyBy((p: Payment) => p.card)]) {
    const completing = new Subject<Batch<Payment>>();
    const done = collect(completing.pipe(operator));
    completing.complete();
    assert.equal(done.state.completed, true);

    const failing = new Subject<Batch<Payment>>();
    const failed = collect(failing.pipe(operator));
    const boom = new Error('upstream');
    failing.error(boom);
    assert.equal(failed.state.error, boom);

    const unsubscribing = new Subject<Batch<Payment>>();
    const { subscription } = collect(unsubscribing.pipe(operator));
    assert.equal(unsubscribing.observed, true);
    subscription.unsubscribe();
    assert.equal(unsubscribing.observed, false);
  }
});

// ---------------------------------------------------------------- filter

test('filter keeps the records whose predicate holds, the same objects, in order', () => {
  const input = new Subject<Batch<Payment>>();
  const { batches } = collect(input.pipe(filter((p: Payment, r) => p.card === 'c1' && r.partition === 2)));
  const batch = batchOf(payments);
  input.next(batch);
  assert.deepEqual(batches[0]!.records, [payments[0], payments[2]]);
  assert.equal(batches[0]!.records[0], payments[0]);
  assert.equal(batches[0]!.acks, batch.acks);
  assert.equal(batches[0]!.watermark, batch.watermark);
});

test('filter emits an empty batch (with its acks and watermark) when nothing passes', () => {
  const input = new Subject<Batch<Payment>>();
  const { batches } = collect(input.pipe(filter(() => false)));
  const batch = batchOf(payments, 777);
  input.next(batch);
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0]!.records, []);
  assert.equal(batches[0]!.watermark, 777);
  assert.equal(batches[0]!.acks, batch.acks);
});

test('a throwing predicate dead-letters its record and the others are judged normally', () => {
  const input = new Subject<Batch<Payment>>();
  const { batches } = collect(
    input.pipe(
      filter(
        (p: Payment) => {
          if (p.card === 'c2') throw new Error('no rule for c2');
          return p.amount > 20;
        },
        { name: 'big-only' },
      ),
    ),
  );
  const batch = batchOf(payments);
  input.next(batch);
  assert.deepEqual(batches[0]!.records.map((r) => r.offset), ['2']);
  assert.deepEqual(batch.side.deadLetters, [{ step: 'big-only', topic: 'payments', partition: 2, offset: '1', error: 'no rule for c2', raw: null, key: '', timestamp: 1_001 }]);
});

// ---------------------------------------------------------------- keyBy

test('keyBy sets string keys (numbers converted) and keeps everything else', () => {
  const input = new Subject<Batch<Payment>>();
  const { batches } = collect(input.pipe(keyBy((p: Payment) => (p.card === 'c1' ? p.card : p.amount))));
  const batch = batchOf(payments);
  input.next(batch);
  assert.deepEqual(batches[0]!.records, [
    { ...payments[0], key: 'c1' },
    { ...payments[1], key: '250' },
    { ...payments[2], key: 'c1' },
  ]);
  assert.equal(batches[0]!.records[1]!.value, payments[1]!.value);
  assert.equal(payments[0]!.key, '', 'input records are not mutated');
  assert.equal(batches[0]!.acks, batch.acks);
  assert.equal(batches[0]!.side, batch.side);
});

test('keyBy dead-letters records whose key is missing, but accepts empty strings and 0', () => {
  const input = new Subject<Batch<{ id?: string | number | null }>>();
  const { batches } = collect(input.pipe(keyBy((v: { id?: string | number | null }) => v.id as string, { name: 'by-id' })));
  const batch = batchOf([record({ id: 'a' }, 0), record({}, 1), record({ id: null }, 2), record({ id: '' }, 3), record({ id: 0 }, 4)]);
  input.next(batch);
  assert.deepEqual(batches[0]!.records.map((r) => [r.offset, r.key]), [['0', 'a'], ['3', ''], ['4', '0']]);
  assert.deepEqual(batch.side.deadLetters.map((d) => [d.step, d.offset, d.error]), [
    ['by-id', '1', 'key function returned no key'],
    ['by-id', '2', 'key function returned no key'],
  ]);
});

test('a chain of operators collects every step\'s dead letters on the batch', () => {
  const input = new Subject<Batch<Payment>>();
  const { batches } = collect(
    input.pipe(
      keyBy((p: Payment) => p.card),
      map((p: Payment) => {
        if (p.amount === 10) throw new Error('ten');
        return { ...p, cents: p.amount * 100 };
      }),
      filter((p) => p.cents > 5_000),
    ),
  );
  const batch = batchOf(payments);
  input.next(batch);
  assert.deepEqual(batches[0]!.records.map((r) => [r.key, r.value.cents]), [['c2', 25_000]]);
  assert.deepEqual(batch.side.deadLetters.map((d) => [d.step, d.offset, d.key]), [['map', '0', 'c1']]);
  assert.equal(batches[0]!.acks, batch.acks);
});

// ---------------------------------------------------------------- joinWindows

interface Five extends WindowResult {
  n5: number;
}
interface One extends WindowResult {
  n1: number;
}

function windowRecord<W extends WindowResult>(value: W): StreamRecord<W> {
  return { value, key: value.key, eventTime: value.windowEnd - 1, topic: '', partition: -1, offset: '' };
}

function five(key: string, windowEnd: number, n5: number) {
  return windowRecord<Five>({ key, windowStart: windowEnd - 300_000, windowEnd, n5 });
}
function one(key: string, windowEnd: number, n1: number) {
  return windowRecord<One>({ key, windowStart: windowEnd - 60_000, windowEnd, n1 });
}

function countingToken(name: string) {
  const counter = { done: 0 };
  const token = new AckToken(name, 0n, 1, () => counter.done++);
  return { token, counter };
}

const combine = (l: Five, r: One | undefined) => ({ key: l.key, end: l.windowEnd, n5: l.n5, n1: r?.n1 ?? null });

test('joinWindows left-joins on key and window end', () => {
  const left = new Subject<Batch<Five>>();
  const right = new Subject<Batch<One>>();
  const { batches } = collect(joinWindows(left, right, combine));
  left.next(batchOf([five('a', 600_000, 5), five('b', 600_000, 2), five('c', 600_000, 1), five('a', 660_000, 7)], 600_000, []));
  assert.equal(batches.length, 0, 'waits for the partner batch');
  right.next(batchOf([one('a', 600_000, 3), one('b', 540_000, 9), one('d', 600_000, 4), one('a', 660_000, 1)], 600_000, []));
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0]!.records.map((r) => r.value), [
    { key: 'a', end: 600_000, n5: 5, n1: 3 },
    { key: 'b', end: 600_000, n5: 2, n1: null }, // same key, other window end: no match
    { key: 'c', end: 600_000, n5: 1, n1: null }, // no right window at all
    { key: 'a', end: 660_000, n5: 7, n1: 1 },
  ]);
  assert.deepEqual(batches[0]!.records.map((r) => [r.key, r.eventTime]), [['a', 599_999], ['b', 599_999], ['c', 599_999], ['a', 659_999]]);
});

test('joinWindows pairs batches in order whichever side emits first', () => {
  const left = new Subject<Batch<Five>>();
  const right = new Subject<Batch<One>>();
  const { batches } = collect(joinWindows(left, right, combine));
  left.next(batchOf([five('a', 1, 10)], 1, []));
  left.next(batchOf([five('a', 2, 20)], 2, []));
  right.next(batchOf([one('a', 1, 1)], 1, []));
  right.next(batchOf([one('a', 2, 2)], 2, []));
  right.next(batchOf([one('a', 3, 3)], 3, []));
  assert.equal(batches.length, 2);
  left.next(batchOf([five('a', 3, 30)], 3, []));
  right.next(batchOf([], 4, []));
  left.next(batchOf([five('a', 4, 40)], 4, []));
  assert.deepEqual(
    batches.map((b) => b.records.map((r) => [r.value.n5, r.value.n1])),
    [[[10, 1]], [[20, 2]], [[30, 3]], [[40, null]]],
  );
  assert.deepEqual(batches.map((b) => b.watermark), [1, 2, 3, 4]);
});

test('joinWindows: the joined batch has the lower watermark, the union of acks and the left side outputs', () => {
  const left = new Subject<Batch<Five>>();
  const right = new Subject<Batch<One>>();
  const { batches } = collect(joinWindows(left, right, combine));
  const shared = new AckToken('t:0', 9n, 10, () => {});
  const onlyLeft = new AckToken('t:0', 19n, 10, () => {});
  const onlyRight = new AckToken('t:1', 4n, 5, () => {});
  const l = batchOf([five('a', 1, 1)], 9_000, [shared, onlyLeft]);
  const r = batchOf([one('a', 1, 1)], 7_000, [onlyRight, shared]);
  right.next(r);
  left.next(l);
  assert.equal(batches[0]!.watermark, 7_000);
  assert.deepEqual(batches[0]!.acks, [shared, onlyLeft, onlyRight]);
  assert.equal(batches[0]!.side, l.side);

  // Without acks on one side the other side's list is used as is.
  left.next(batchOf([], 1, []));
  right.next(r);
  assert.deepEqual(batches[1]!.acks, r.acks);
});

for (const first of ['left', 'right'] as const) {
  test(`joinWindows retains the acks of a ${first} batch waiting for its partner until the pair is emitted`, () => {
    const left = new Subject<Batch<Five>>();
    const right = new Subject<Batch<One>>();
    const waiting = countingToken('t:0');
    const partnerToken = countingToken('t:1');
    const atEmission: Array<{ waitingDone: boolean; count: number }> = [];
    joinWindows(left, right, combine).subscribe((batch) => {
      // What a sink sees when it receives the joined batch (before it would retain anything).
      atEmission.push({ waitingDone: waiting.token.done, count: waiting.counter.done });
      assert.ok(batch.acks.includes(waiting.token));
    });
    const waitingBatch = first === 'left' ? batchOf([five('a', 1, 1)], 1, [waiting.token]) : batchOf([one('a', 1, 1)], 1, [waiting.token]);
    if (first === 'left') left.next(waitingBatch as Batch<Five>);
    else right.next(waitingBatch as Batch<One>);
    // The window that produced the batch drops its own hold: the join's hold must keep the token open.
    waiting.token.release();
    assert.equal(waiting.token.done, false);
    assert.equal(waiting.counter.done, 0);

    if (first === 'left') right.next(batchOf([one('a', 1, 1)], 1, [partnerToken.token]));
    else left.next(batchOf([five('a', 1, 1)], 1, [partnerToken.token]));
    assert.deepEqual(atEmission, [{ waitingDone: false, count: 0 }], 'not done while the pair is being emitted');
    assert.equal(waiting.token.done, true, 'done right after emission');
    assert.equal(waiting.counter.done, 1);
    // The batch that completed the pair passed straight through: its token is untouched.
    assert.equal(partnerToken.token.done, false);
    partnerToken.token.release();
    assert.equal(partnerToken.counter.done, 1);
  });
}

test('joinWindows: a sink that retains the joined acks keeps the waiting token open after the join releases it', () => {
  const left = new Subject<Batch<Five>>();
  const right = new Subject<Batch<One>>();
  const waiting = countingToken('t:0');
  const sinkHeld: AckToken[] = [];
  joinWindows(left, right, combine).subscribe((batch) => {
    for (const token of batch.acks) token.retain();
    sinkHeld.push(...batch.acks);
  });
  left.next(batchOf([five('a', 1, 1)], 1, [waiting.token]));
  waiting.token.release();
  right.next(batchOf([], 1, []));
  assert.equal(waiting.counter.done, 0, 'the sink still buffers the row');
  for (const token of sinkHeld) token.release();
  assert.equal(waiting.counter.done, 1);
});

test('joinWindows forwards errors and unsubscribes from both inputs', () => {
  const left = new Subject<Batch<Five>>();
  const right = new Subject<Batch<One>>();
  const failed = collect(joinWindows(left, right, combine));
  const boom = new Error('window failed');
  right.error(boom);
  assert.equal(failed.state.error, boom);
  assert.equal(left.observed, false, 'the other input is unsubscribed after an error');

  const l2 = new Subject<Batch<Five>>();
  const r2 = new Subject<Batch<One>>();
  const { subscription } = collect(joinWindows(l2, r2, combine));
  assert.equal(l2.observed && r2.observed, true);
  subscription.unsubscribe();
  assert.equal(l2.observed || r2.observed, false);
});

test('joinWindows completes only when both sides have, emitting a batch still waiting for its partner', () => {
  const left = new Subject<Batch<Five>>();
  const right = new Subject<Batch<One>>();
  const { token, counter } = countingToken('payments:0');
  const output = collect(joinWindows(left, right, combine));
  left.next(batchOf([five('a', 600_000, 5)], 600_000, [token]));
  token.release(); // the window that produced it lets go; the waiting batch still holds it
  left.complete();
  assert.equal(counter.done, 0);
  right.next(batchOf([one('a', 600_000, 3)], 600_000, []));
  assert.equal(output.batches.length, 1);
  assert.equal(counter.done, 1);
  assert.equal(output.state.completed, false);
  right.complete();
  assert.equal(output.state.completed, true);
});
