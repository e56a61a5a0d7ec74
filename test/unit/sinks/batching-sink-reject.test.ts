import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckToken } from '../../../src/core/ack.ts';
import { SinkError } from '../../../src/core/errors.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { BatchingSink, type BatchingSinkOptions } from '../../../src/sinks/batching-sink.ts';

/**
 * Rejects (non-retriably) every chunk holding a row in `bad`, as a table rejects a whole INSERT
 * for one unparsable row; `transient` rejects that many writes retriably first.
 */
class PickySink extends BatchingSink<number> {
  readonly written: number[] = [];
  readonly chunks: number[][] = [];
  /** Whether the watched ack token was done at each write. */
  readonly doneAtWrite: boolean[] = [];
  watched: AckToken | null = null;
  transient = 0;
  failure: (rows: number[]) => Error = (rows) => new SinkError('picky', `cannot parse row ${rows.find((r) => this.bad.has(r))}`, { retriable: false });

  constructor(private readonly bad: Set<number>, options: Partial<BatchingSinkOptions<number>> = {}) {
    super({ name: 'picky', topology: 'test', logger: silentLogger, maxRows: 1000, maxDelayMs: 60_000, retry: { initialDelayMs: 1, maxDelayMs: 2 }, ...options });
  }

  protected async writeRows(rows: number[]): Promise<void> {
    this.chunks.push(rows.slice());
    if (this.watched) this.doneAtWrite.push(this.watched.done);
    if (this.transient > 0) {
      this.transient--;
      throw new SinkError('picky', 'connection reset', { retriable: true });
    }
    if (rows.some((r) => this.bad.has(r))) throw this.failure(rows);
    this.written.push(...rows);
  }
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/** One ack token for `rows`, released by the "source" right after the write, as a source does. */
function writeTracked(sink: PickySink, rows: number[]): { token: AckToken; completed: () => boolean } {
  let completed = false;
  const token = new AckToken('t-0', BigInt(rows.length), rows.length, () => (completed = true));
  sink.watched = token;
  sink.write(rows, [token]);
  token.release();
  return { token, completed: () => completed };
}

test('bisects a rejected chunk: good rows written exactly once, each bad row reported once, acks released at the end', async () => {
  const bad = new Set([3, 500, 501, 999]);
  const rejected: Array<{ row: number; error: string; done: boolean }> = [];
  const fatal: Error[] = [];
  let ackedAtHook: readonly AckToken[] = [];
  const sink = new PickySink(bad, {
    onFatal: (error) => fatal.push(error),
    onRejectedRow: (row, error, acks) => {
      ackedAtHook = acks;
      rejected.push({ row, error: error.message, done: acks[0]!.done });
    },
  });
  const { token, completed } = writeTracked(sink, range(1000));
  await sink.flush();

  assert.deepEqual(fatal, []);
  assert.deepEqual([...sink.written].sort((a, b) => a - b), range(1000).filter((r) => !bad.has(r)));
  assert.equal(new Set(sink.written).size, sink.written.length, 'no good row written twice');
  assert.deepEqual(rejected.map((r) => r.row).sort((a, b) => a - b), [...bad]);
  for (const r of rejected) assert.match(r.error, new RegExp(`cannot parse row ${r.row}$`));
  assert.ok(rejected.every((r) => !r.done), 'acks still held while bad rows are handed on');
  assert.deepEqual(ackedAtHook, [token]);
  assert.ok(sink.doneAtWrite.every((done) => !done), 'acks held during every write of the bisection');
  assert.ok(completed(), 'acks released once every row was written or rejected');
  // Bisection, not row by row: a few dozen writes for 1,000 rows with 4 bad ones.
  assert.ok(sink.chunks.length < 80, `${sink.chunks.length} writes`);
  await sink.close();
});

test('retriable failures during the bisection are retried, not taken for rejections', async () => {
  const rejected: number[] = [];
  const sink = new PickySink(new Set([7]), { onRejectedRow: (row) => rejected.push(row) });
  // The whole chunk fails for the bad row; the next two writes (the first half) fail transiently.
  const reject = sink.failure;
  let calls = 0;
  sink.failure = (rows) => {
    if (++calls === 1) sink.transient = 2;
    return reject(rows);
  };
  const { completed } = writeTracked(sink, range(16));
  await sink.flush();
  assert.deepEqual(sink.chunks.slice(0, 4), [range(16), range(8), range(8), range(8)]);
  assert.deepEqual(rejected, [7]);
  assert.deepEqual([...sink.written].sort((a, b) => a - b), range(16).filter((r) => r !== 7));
  assert.ok(completed());
});

test('a chunk whose every row is rejected is systemic: fatal, nothing reported, acks kept', async () => {
  const rejected: number[] = [];
  const fatal: Error[] = [];
  const sink = new PickySink(new Set(range(8)), { onFatal: (error) => fatal.push(error), onRejectedRow: (row) => rejected.push(row) });
  const { completed } = writeTracked(sink, range(8));
  await assert.rejects(sink.flush(), { name: 'SinkError', retriable: false, message: /every one of 8 rows was rejected, so the cause is systemic \(missing table, permissions, wrong schema\?\), not bad rows: .*cannot parse row 0/ });
  assert.equal(fatal.length, 1);
  assert.deepEqual(rejected, []);
  assert.equal(completed(), false);
  assert.throws(() => sink.write([1], []), /systemic/);
});

test('a single-row chunk that is rejected goes to the hook', async () => {
  const rejected: number[] = [];
  const sink = new PickySink(new Set([5]), { onRejectedRow: (row) => rejected.push(row) });
  const { completed } = writeTracked(sink, [5]);
  await sink.flush();
  assert.deepEqual(rejected, [5]);
  assert.deepEqual(sink.chunks, [[5]]);
  assert.ok(completed());
});

test('errors that are not row rejections, and sinks without a hook, keep the fatal path', async () => {
  for (const options of [{ isRowRejection: () => false, onRejectedRow: () => assert.fail('no rejection') }, {}] satisfies Array<Partial<BatchingSinkOptions<number>>>) {
    const fatal: Error[] = [];
    const sink = new PickySink(new Set([2]), { ...options, onFatal: (error) => fatal.push(error), retry: { initialDelayMs: 1, maxDelayMs: 2, nonRetriableAttempts: 3 } });
    const { completed } = writeTracked(sink, range(10));
    await assert.rejects(sink.flush(), /cannot parse row 2/);
    assert.equal(sink.chunks.length, 3, 'the whole chunk tried nonRetriableAttempts times, never halved');
    assert.equal(fatal.length, 1);
    assert.deepEqual(sink.written, []);
    assert.equal(completed(), false);
  }
});

test('a hook that throws (dead-letter sink down) fails the sink and keeps the acks', async () => {
  const fatal: Error[] = [];
  const sink = new PickySink(new Set([4]), {
    onFatal: (error) => fatal.push(error),
    onRejectedRow: () => {
      throw new SinkError('dlq', 'write after close', { retriable: false });
    },
  });
  const { completed } = writeTracked(sink, range(10));
  await assert.rejects(sink.flush(), /sink dlq: write after close/);
  assert.equal(fatal.length, 1);
  assert.equal(sink.written.length, 9);
  assert.equal(completed(), false);
});
