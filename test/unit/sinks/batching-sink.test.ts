import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { AckToken } from '../../../src/core/ack.ts';
import { SinkError } from '../../../src/core/errors.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { BatchingSink, type BatchingSinkOptions } from '../../../src/sinks/batching-sink.ts';

/** Keeps written chunks in memory; `failNext` and `hold` script the destination's behaviour. */
class MemorySink extends BatchingSink<number> {
  readonly chunks: number[][] = [];
  calls = 0;
  failNext: Error[] = [];
  private gate: Promise<void> | null = null;
  private openGate: () => void = () => {};

  constructor(options: Partial<BatchingSinkOptions> = {}) {
    super({ name: 'memory', topology: 'test', logger: silentLogger, retry: { initialDelayMs: 1, maxDelayMs: 4 }, ...options });
  }

  /** Makes the next writes wait until `release()`. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.gate = null;
    this.openGate();
  }

  protected async writeRows(rows: number[]): Promise<void> {
    this.calls++;
    const failure = this.failNext.shift();
    if (failure) throw failure;
    if (this.gate) await this.gate;
    this.chunks.push(rows.slice());
  }
}

function trackedToken(): AckToken {
  return new AckToken('t-0', 9n, 3, () => {});
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

async function counterValue(counter: Metrics['sinkErrors']): Promise<number> {
  const { values } = await counter.get();
  return values.find((v) => v.labels.sink === 'memory')?.value ?? 0;
}

test('flushes as soon as maxRows rows are buffered', async () => {
  const sink = new MemorySink({ maxRows: 5, maxDelayMs: 60_000 });
  sink.write(range(0, 3), []);
  await delay(5);
  assert.equal(sink.calls, 0);
  sink.write(range(3, 2), []);
  await delay(5);
  assert.deepEqual(sink.chunks, [[0, 1, 2, 3, 4]]);
  await sink.close();
});

test('flushes maxDelayMs after the first buffered row', async () => {
  const sink = new MemorySink({ maxRows: 1000, maxDelayMs: 100 });
  const started = performance.now();
  sink.write([1, 2], []);
  sink.write([3], []);
  assert.equal(sink.calls, 0);
  while (sink.calls === 0) await delay(5);
  assert.ok(performance.now() - started >= 99, `flushed after ${performance.now() - started} ms`);
  assert.deepEqual(sink.chunks, [[1, 2, 3]]);
  await sink.close();
});

test('releases acks only after the destination acknowledged the chunk', async () => {
  let completed = 0;
  const token = new AckToken('payments-0', 41n, 2, () => completed++);
  const sink = new MemorySink({ maxRows: 2 });
  sink.hold();
  sink.write([1, 2], [token]);
  token.release(); // the source's own reference
  await delay(5);
  assert.equal(sink.calls, 1);
  assert.equal(completed, 0);
  sink.release();
  await sink.flush();
  assert.equal(completed, 1);
  assert.equal(token.done, true);
});

test('retries a transient failure and writes the rows exactly once', async () => {
  const metrics = new Metrics();
  const token = trackedToken();
  const sink = new MemorySink({ maxRows: 100, metrics });
  sink.failNext = [new Error('socket hang up'), new SinkError('memory', 'timeout', { retriable: true })];
  sink.write(range(0, 10), [token]);
  token.release();
  await sink.flush();
  assert.equal(sink.calls, 3);
  assert.deepEqual(sink.chunks, [range(0, 10)]);
  assert.equal(token.done, true);
  assert.equal(await counterValue(metrics.sinkErrors), 2);
  assert.equal(await counterValue(metrics.sinkRows), 10);
});

test('rows written during a flush go into the next chunk', async () => {
  const sink = new MemorySink({ maxRows: 3, maxDelayMs: 60_000 });
  sink.hold();
  sink.write([1, 2, 3], []);
  sink.write([4, 5], []);
  assert.equal(sink.bufferedRows, 5);
  sink.release();
  await sink.flush();
  assert.deepEqual(sink.chunks, [[1, 2, 3], [4, 5]]);
  assert.equal(sink.bufferedRows, 0);
});

test('isFull counts buffered and in-flight rows; whenReady resolves once they drop', async () => {
  const sink = new MemorySink({ maxRows: 2, maxBufferedRows: 4, maxDelayMs: 60_000 });
  sink.hold();
  sink.write([1, 2], []);
  assert.equal(sink.isFull(), false);
  sink.write([3, 4], []);
  assert.equal(sink.isFull(), true);
  let ready = false;
  const whenReady = sink.whenReady().then(() => (ready = true));
  await delay(5);
  assert.equal(ready, false);
  sink.release();
  await whenReady;
  assert.equal(ready, true);
  await sink.flush();
  assert.equal(sink.isFull(), false);
  assert.deepEqual(sink.chunks, [[1, 2], [3, 4]]);
});

test('a non-retriable failure is retried a few times, then reported through onFatal', async () => {
  const fatal: Error[] = [];
  const rejected = new SinkError('memory', 'Cannot parse input', { retriable: false });
  const token = trackedToken();
  const sink = new MemorySink({ maxRows: 2, onFatal: (error) => fatal.push(error), retry: { initialDelayMs: 1, maxDelayMs: 2, nonRetriableAttempts: 3 } });
  sink.failNext = [rejected, rejected, rejected, rejected];
  sink.write([1, 2], [token]);
  token.release();
  await assert.rejects(sink.flush(), rejected);
  assert.equal(sink.calls, 3);
  assert.deepEqual(fatal, [rejected]);
  assert.deepEqual(sink.chunks, []);
  assert.equal(token.done, false);
  assert.equal(sink.isFull(), true);
  await assert.rejects(sink.whenReady(), rejected);
  assert.throws(() => sink.write([3], []), rejected);
});

test('a non-retriable failure that clears within the allowed attempts is not fatal', async () => {
  const fatal: Error[] = [];
  const sink = new MemorySink({ maxRows: 2, onFatal: (error) => fatal.push(error) });
  sink.failNext = [new SinkError('memory', 'table missing', { retriable: false })];
  sink.write([1, 2], []);
  await sink.flush();
  assert.deepEqual(sink.chunks, [[1, 2]]);
  assert.deepEqual(fatal, []);
});

test('a whenReady waiter is rejected when the sink fails', async () => {
  const rejected = new SinkError('memory', 'bad rows', { retriable: false });
  const sink = new MemorySink({ maxRows: 1, maxBufferedRows: 1, retry: { initialDelayMs: 1, maxDelayMs: 1, nonRetriableAttempts: 2 } });
  sink.failNext = [rejected, rejected];
  sink.write([1], []);
  await assert.rejects(sink.whenReady(), rejected);
});

test('flush writes everything and waits; close flushes and refuses later writes', async () => {
  const token = trackedToken();
  const sink = new MemorySink({ maxRows: 4, maxDelayMs: 60_000 });
  sink.write(range(0, 6), [token]);
  token.release();
  sink.write([6], []);
  await sink.flush();
  assert.deepEqual(sink.chunks, [range(0, 6), [6]]);
  assert.equal(token.done, true);
  sink.write([7, 8], []);
  await sink.close();
  assert.deepEqual(sink.chunks, [range(0, 6), [6], [7, 8]]);
  assert.throws(() => sink.write([9], []), /write after close/);
  await sink.flush();
  assert.equal(sink.calls, 3);
});

test('an empty write retains nothing and starts no flush', async () => {
  let completed = 0;
  const token = new AckToken('payments-1', 5n, 0, () => completed++);
  const sink = new MemorySink({ maxDelayMs: 1 });
  sink.write([], [token]);
  token.release();
  assert.equal(completed, 1);
  await delay(10);
  assert.equal(sink.calls, 0);
  await sink.close();
});

test('rejects a non-positive maxRows with a ConfigError naming the setting', () => {
  assert.throws(() => new MemorySink({ maxRows: 0 }), { name: 'ConfigError', field: 'memory.maxRows' });
});
