import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { InFlightBuffer } from '../../../src/runtime/in-flight-buffer.ts';

interface Item {
  id: string;
  size: number;
}

/** Tracks whether a promise has settled, without waiting on it. */
function watch<T>(promise: Promise<T>): { settled: () => boolean; value: () => T | undefined; promise: Promise<T> } {
  let settled = false;
  let value: T | undefined;
  promise.then((v) => {
    settled = true;
    value = v;
  });
  return { settled: () => settled, value: () => value, promise };
}

/** Lets every pending promise callback run (a full event-loop turn). */
async function drainMicrotasks(): Promise<void> {
  await turn();
}

test('items come out in the order they went in, and size counts records until released', async () => {
  const buffer = new InFlightBuffer<Item>(100);
  buffer.push({ id: 'a', size: 10 });
  buffer.push({ id: 'b', size: 20 });
  buffer.push({ id: 'c', size: 30 });
  assert.equal(buffer.size, 60);
  assert.equal((await buffer.take())!.id, 'a');
  assert.equal(buffer.size, 60, 'taking does not free room; processing does');
  buffer.release(10);
  assert.equal(buffer.size, 50);
  assert.equal((await buffer.take())!.id, 'b');
  assert.equal((await buffer.take())!.id, 'c');
  buffer.release(50);
  assert.equal(buffer.size, 0);
});

test('hasRoomFor follows the capacity in records', () => {
  const buffer = new InFlightBuffer<Item>(10);
  assert.equal(buffer.capacity, 10);
  assert.equal(buffer.hasRoomFor(10), true);
  buffer.push({ id: 'a', size: 6 });
  assert.equal(buffer.hasRoomFor(4), true, 'exactly full is allowed');
  assert.equal(buffer.hasRoomFor(5), false);
  buffer.push({ id: 'b', size: 4 });
  assert.equal(buffer.hasRoomFor(1), false);
  buffer.release(6);
  assert.equal(buffer.hasRoomFor(6), true);
});

test('a batch larger than the capacity is admitted alone into an empty buffer', () => {
  const buffer = new InFlightBuffer<Item>(10);
  assert.equal(buffer.hasRoomFor(25), true);
  buffer.push({ id: 'huge', size: 25 });
  assert.equal(buffer.hasRoomFor(1), false, 'nothing else joins it');
  assert.equal(buffer.size, 25);
  buffer.release(25);
  assert.equal(buffer.hasRoomFor(1), true);
});

test('waitForRoom resolves at once when there is room', async () => {
  const buffer = new InFlightBuffer<Item>(10);
  buffer.push({ id: 'a', size: 5 });
  await buffer.waitForRoom(5);
  await new InFlightBuffer<Item>(1).waitForRoom(1_000); // empty: always room
});

test('waitForRoom waits until enough records are released, not just any release', async () => {
  const buffer = new InFlightBuffer<Item>(10);
  buffer.push({ id: 'a', size: 4 });
  buffer.push({ id: 'b', size: 4 });
  const room = watch(buffer.waitForRoom(5));
  await drainMicrotasks();
  assert.equal(room.settled(), false, '8 + 5 > 10');
  await buffer.take();
  await drainMicrotasks();
  assert.equal(room.settled(), false, 'taking frees nothing');
  buffer.release(2); // 6 + 5 > 10: still no room
  await drainMicrotasks();
  assert.equal(room.settled(), false);
  buffer.release(2); // 4 + 5 <= 10
  await room.promise;
  assert.equal(buffer.hasRoomFor(5), true);
});

test('several waiters are all woken by a release', async () => {
  const buffer = new InFlightBuffer<Item>(10);
  buffer.push({ id: 'a', size: 10 });
  const first = watch(buffer.waitForRoom(3));
  const second = watch(buffer.waitForRoom(7));
  await drainMicrotasks();
  assert.equal(first.settled() || second.settled(), false);
  buffer.release(10);
  await Promise.all([first.promise, second.promise]);
});

test('take waits for the next push', async () => {
  const buffer = new InFlightBuffer<Item>(10);
  const next = watch(buffer.take());
  await drainMicrotasks();
  assert.equal(next.settled(), false);
  buffer.push({ id: 'late', size: 1 });
  assert.deepEqual(await next.promise, { id: 'late', size: 1 });
});

test('after close, take returns what is queued and then null', async () => {
  const buffer = new InFlightBuffer<Item>(10);
  buffer.push({ id: 'a', size: 1 });
  buffer.push({ id: 'b', size: 1 });
  buffer.close();
  assert.equal((await buffer.take())!.id, 'a');
  assert.equal((await buffer.take())!.id, 'b');
  assert.equal(await buffer.take(), null);
  assert.equal(await buffer.take(), null);
});

test('close wakes a consumer waiting on an empty buffer with null', async () => {
  const buffer = new InFlightBuffer<Item>(10);
  const next = watch(buffer.take());
  await drainMicrotasks();
  assert.equal(next.settled(), false);
  buffer.close();
  assert.equal(await next.promise, null);
});

test('highWaterMark records the largest size seen', async () => {
  const buffer = new InFlightBuffer<Item>(10);
  assert.equal(buffer.highWaterMark, 0);
  buffer.push({ id: 'a', size: 3 });
  buffer.push({ id: 'b', size: 4 });
  await buffer.take();
  buffer.release(3);
  buffer.push({ id: 'c', size: 2 });
  assert.equal(buffer.size, 6);
  assert.equal(buffer.highWaterMark, 7);
  buffer.release(6);
  assert.equal(buffer.highWaterMark, 7);
});

test('a producer and a consumer running concurrently never exceed the capacity and keep order', async () => {
  const capacity = 50;
  const buffer = new InFlightBuffer<Item>(capacity);
  const sizes = Array.from({ length: 400 }, (_, i) => 1 + ((i * 37) % 23)); // 1..23, all below capacity
  const taken: string[] = [];
  const producer = (async () => {
    for (let i = 0; i < sizes.length; i++) {
      await buffer.waitForRoom(sizes[i]!);
      assert.ok(buffer.hasRoomFor(sizes[i]!));
      buffer.push({ id: String(i), size: sizes[i]! });
      assert.ok(buffer.size <= capacity);
    }
    buffer.close();
  })();
  const consumer = (async () => {
    for (let item = await buffer.take(); item !== null; item = await buffer.take()) {
      taken.push(item.id);
      if (taken.length % 3 === 0) await drainMicrotasks(); // a slow step now and then
      buffer.release(item.size);
    }
  })();
  await Promise.all([producer, consumer]);
  assert.deepEqual(taken, sizes.map((_, i) => String(i)));
  assert.ok(buffer.highWaterMark <= capacity);
  assert.ok(buffer.highWaterMark > capacity - 23, 'the producer filled the buffer while the consumer was slow');
  assert.equal(buffer.size, 0);
});

test('concurrent takes each get an item in order, and close wakes every waiting take', async () => {
  const buffer = new InFlightBuffer<{ size: number; id: string }>(10);
  const first = buffer.take();
  const second = buffer.take();
  const third = buffer.take();
  buffer.push({ size: 1, id: 'x' });
  buffer.push({ size: 1, id: 'y' });
  buffer.close();
  assert.deepEqual(await Promise.all([first, second, third]), [{ size: 1, id: 'x' }, { size: 1, id: 'y' }, null]);
});

test('waitForRoom with a timeout resolves false and leaves no waiter behind', async () => {
  const buffer = new InFlightBuffer<{ size: number }>(2);
  buffer.push({ size: 2 });
  assert.equal(await buffer.waitForRoom(1, 5), false);
  assert.equal(await buffer.waitForRoom(1, 5), false);
  const waiting = buffer.waitForRoom(1, 10_000);
  buffer.release(2);
  assert.equal(await waiting, true);
});

test('bytes bound the buffer too: a push waits until released bytes make room, a lone batch always fits', async () => {
  const buffer = new InFlightBuffer<{ size: number; bytes: number }>(1_000, 100);
  buffer.push({ size: 1, bytes: 80 });
  assert.equal(buffer.hasRoomFor(1, 30), false, '80 + 30 bytes exceed 100 although 2 records fit');
  assert.equal(buffer.hasRoomFor(1, 20), true);
  const room = watch(buffer.waitForRoom(1, Infinity, 30));
  await drainMicrotasks();
  assert.equal(room.settled(), false);
  const taken = await buffer.take();
  buffer.release(taken!.size, taken!.bytes);
  assert.equal(await room.promise, true);
  assert.equal(buffer.bytes, 0);
  assert.equal(buffer.bytesHighWaterMark, 80);
  // Larger than the whole byte bound: admitted alone into the empty buffer.
  assert.equal(buffer.hasRoomFor(1, 500), true);
});
