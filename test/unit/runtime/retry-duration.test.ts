import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toMillis } from '../../../src/core/duration.ts';
import { isRetriable, retry, sleep } from '../../../src/core/retry.ts';
import { ConfigError, ConnectionError, RetriesExhaustedError, SinkError, TributaryError } from '../../../src/core/errors.ts';

test('toMillis passes non-negative numbers through', () => {
  assert.equal(toMillis(0), 0);
  assert.equal(toMillis(60_000), 60_000);
  assert.equal(toMillis(2.5), 2.5);
});

test('toMillis parses every unit', () => {
  assert.equal(toMillis('500ms'), 500);
  assert.equal(toMillis('10s'), 10_000);
  assert.equal(toMillis('1m'), 60_000);
  assert.equal(toMillis('2h'), 7_200_000);
  assert.equal(toMillis('1d'), 86_400_000);
  assert.equal(toMillis('0s'), 0);
});

test('toMillis accepts decimals and spaces, rounding to whole milliseconds', () => {
  assert.equal(toMillis('1.5s'), 1_500);
  assert.equal(toMillis('0.25m'), 15_000);
  assert.equal(toMillis(' 10 s '), 10_000);
  assert.equal(toMillis('1.6ms'), 2);
  assert.equal(toMillis('0.0004s'), 0);
});

test('toMillis rejects bad numbers with a ConfigError naming the field', () => {
  for (const bad of [-1, Number.NaN, Infinity, -Infinity]) {
    assert.throws(() => toMillis(bad, 'window.grace'), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.field, 'window.grace');
      assert.ok(error.message.includes(`${bad} is not a non-negative number of milliseconds`), error.message);
      assert.ok(error.message.includes("use e.g. 60000 or '1m'"), error.message);
      return true;
    });
  }
});

test('toMillis rejects text that is not a number and a unit', () => {
  for (const bad of ['10', 's', '10sec', '1 minute', '-1s', '1e3ms', '', '1.s', '10S']) {
    assert.throws(() => toMillis(bad, 'tumbling.size'), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.field, 'tumbling.size');
      assert.ok(error.message.includes(`"${bad}" is not a duration`), error.message);
      return true;
    });
  }
  assert.throws(() => toMillis('soon'), { name: 'ConfigError', field: 'duration' });
});

test('isRetriable: Tributary errors say so themselves, programmer errors never are, unknown errors are assumed transient', () => {
  assert.equal(isRetriable(new ConnectionError('kafka', 'refused')), true);
  assert.equal(isRetriable(new ConnectionError('kafka', 'refused 8 times', undefined, { retriesExhausted: true })), false);
  assert.equal(isRetriable(new TypeError("Cannot read properties of undefined (reading 'cardId')")), false);
  assert.equal(isRetriable(new RangeError('Invalid array length')), false);
  assert.equal(isRetriable(new ReferenceError('x is not defined')), false);
  // Clients that carry their own flag (KafkaJS errors) are believed.
  assert.equal(isRetriable(Object.assign(new Error('SASL authentication failed'), { retriable: false })), false);
  assert.equal(isRetriable(Object.assign(new Error('leader not available'), { retriable: true })), true);
  assert.equal(isRetriable(new ConfigError('PORT', 'bad', 'fix')), false);
  assert.equal(isRetriable(new SinkError('ch', 'bad rows', { retriable: false })), false);
  assert.equal(isRetriable(new SinkError('ch', 'timeout', { retriable: true })), true);
  assert.equal(isRetriable(new Error('ECONNRESET')), true);
  assert.equal(isRetriable('a string'), true);
});

test('retry returns the first success without waiting', async () => {
  const attempts: number[] = [];
  const result = await retry(async (attempt) => {
    attempts.push(attempt);
    return 'ok';
  }, { what: 'connect', onRetry: () => assert.fail('no retry expected') });
  assert.equal(result, 'ok');
  assert.deepEqual(attempts, [1]);
});

test('retry retries transient failures with growing, capped, jittered delays', async () => {
  const retries: Array<{ attempt: number; delayMs: number; error: unknown }> = [];
  const failures = [new Error('one'), new ConnectionError('redis', 'two'), new Error('three'), new Error('four')];
  const result = await retry(
    async (attempt) => {
      if (attempt <= failures.length) throw failures[attempt - 1];
      return attempt;
    },
    { what: 'connect to Redis', initialDelayMs: 2, maxDelayMs: 6, onRetry: (info) => retries.push(info) },
  );
  assert.equal(result, 5);
  assert.deepEqual(retries.map((r) => r.attempt), [1, 2, 3, 4]);
  assert.deepEqual(retries.map((r) => r.error), failures);
  // Ceilings 2, 4, 6 (capped), 6; each delay lies in [ceiling / 2, ceiling].
  const ceilings = [2, 4, 6, 6];
  retries.forEach((r, i) => {
    assert.ok(r.delayMs >= ceilings[i]! / 2 && r.delayMs <= ceilings[i]!, `attempt ${r.attempt}: delay ${r.delayMs}`);
    assert.ok(Number.isInteger(r.delayMs));
  });
});

test('retry throws a non-retriable error at once, unchanged', async () => {
  const fatal = new ConfigError('CLICKHOUSE_URL', 'bad', 'fix');
  let calls = 0;
  await assert.rejects(
    retry(async () => {
      calls++;
      throw fatal;
    }, { what: 'connect', initialDelayMs: 1, onRetry: () => assert.fail('no retry expected') }),
    (error: unknown) => error === fatal,
  );
  assert.equal(calls, 1);
});

test('retry gives up after maxAttempts with an error naming what was attempted', async () => {
  let calls = 0;
  const last = new Error('connection refused');
  await assert.rejects(
    retry(async () => {
      calls++;
      throw calls === 3 ? last : new Error(`failure ${calls}`);
    }, { what: 'connect to ClickHouse at http://127.0.0.1:8123', maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 }),
    (error: unknown) => {
      assert.ok(error instanceof RetriesExhaustedError);
      assert.ok(error instanceof TributaryError);
      assert.equal(error.message, 'connect to ClickHouse at http://127.0.0.1:8123 failed after 3 attempt(s): connection refused');
      assert.equal(error.code, 'RETRIES_EXHAUSTED');
      assert.equal(error.retriable, false, 'the retries were the retry');
      assert.equal(error.attempts, 3);
      assert.equal(error.cause, last, 'keeps the last failure');
      return true;
    },
  );
  assert.equal(calls, 3);
});

test('a programmer error (TypeError) is thrown at once, as it is, never retried', async () => {
  let calls = 0;
  const bug = new TypeError("Cannot read properties of undefined (reading 'ts')");
  await assert.rejects(
    retry(async () => {
      calls++;
      throw bug;
    }, { what: 'score', maxAttempts: 5, initialDelayMs: 1, onRetry: () => assert.fail('no retry expected') }),
    (error: unknown) => error === bug,
  );
  assert.equal(calls, 1);
});

test('maxAttempts 1 means no retry', async () => {
  let calls = 0;
  await assert.rejects(
    retry(async () => {
      calls++;
      throw 'plain string';
    }, { what: 'ping', maxAttempts: 1 }),
    { message: 'ping failed after 1 attempt(s): plain string' },
  );
  assert.equal(calls, 1);
});

test('an aborted signal stops retrying after the current attempt', async () => {
  const controller = new AbortController();
  controller.abort();
  let calls = 0;
  await assert.rejects(
    retry(async () => {
      calls++;
      throw new Error('down');
    }, { what: 'fetch', maxAttempts: Infinity, signal: controller.signal }),
    { message: 'fetch failed after 1 attempt(s): down' },
  );
  assert.equal(calls, 1);
});

test('aborting during a long backoff wakes the retry loop, which then gives up', async () => {
  const controller = new AbortController();
  let calls = 0;
  await assert.rejects(
    retry(async () => {
      calls++;
      throw new Error('down');
    }, {
      what: 'fetch',
      maxAttempts: Infinity,
      initialDelayMs: 600_000, // would hang the test if the abort did not cut the wait short
      maxDelayMs: 600_000,
      signal: controller.signal,
      onRetry: () => setImmediate(() => controller.abort()),
    }),
    { message: 'fetch failed after 2 attempt(s): down' },
  );
  assert.equal(calls, 2);
});

test('sleep resolves at once for an aborted signal and early on abort', async () => {
  const aborted = new AbortController();
  aborted.abort();
  await sleep(600_000, aborted.signal);
  const controller = new AbortController();
  const waiting = sleep(600_000, controller.signal);
  controller.abort();
  await waiting;
  await sleep(1);
});
