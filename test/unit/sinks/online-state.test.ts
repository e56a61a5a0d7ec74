import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { AckToken } from '../../../src/core/ack.ts';
import type { StreamRecord } from '../../../src/core/batch.ts';
import { ConnectionError, TributaryError } from '../../../src/core/errors.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { onlineState, type OnlineStateOptions, type OnlineStateValue } from '../../../src/sinks/online-state.ts';
import type { Sink, SinkEnvironment } from '../../../src/sinks/sink.ts';
import { StateUnavailableError, type KeyValueStore, type StateLookup } from '../../../src/state/key-value-store.ts';
import { MemoryKeyValueStore } from '../../../src/state/memory-store.ts';

/**
 * A store that fails like Redis does while it is down: `down` makes writes fail with a
 * retriable ConnectionError and reads with StateUnavailableError; `reject` fails writes with a
 * permanent error; `hold()` keeps the next write in flight until `release(fail)`.
 */
class FlakyStore implements KeyValueStore {
  readonly kind = 'redis' as const;
  readonly inner = new MemoryKeyValueStore();
  down = false;
  reject = false;
  writes = 0;
  failedWrites = 0;
  private gate: { promise: Promise<boolean>; open: (fail: boolean) => void } | null = null;

  hold(): void {
    let open!: (fail: boolean) => void;
    const promise = new Promise<boolean>((resolve) => (open = resolve));
    this.gate = { promise, open };
  }

  release(fail = false): void {
    const gate = this.gate;
    this.gate = null;
    gate?.open(fail);
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs?: number): Promise<void> {
    this.writes++;
    if (this.gate && (await this.gate.promise)) {
      this.failedWrites++;
      throw new ConnectionError('Redis', 'connection lost mid-write');
    }
    if (this.reject) throw new TributaryError('value cannot be stored', { retriable: false });
    if (this.down) {
      this.failedWrites++;
      throw new ConnectionError('Redis', "Stream isn't writeable");
    }
    await this.inner.setMany(entries, ttlMs);
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    if (this.down) throw new StateUnavailableError(`reading ${key} failed`);
    return this.inner.get<T>(key);
  }

  async lookup<T = unknown>(key: string): Promise<StateLookup<T>> {
    const value = await this.get<T>(key);
    return { ...(await this.inner.lookup<T>(key)), value };
  }

  delete(keys: readonly string[]): Promise<boolean[]> {
    return this.inner.delete(keys);
  }

  get stale(): boolean {
    return this.inner.stale;
  }

  setPending(writer: string, pending: boolean): void {
    this.inner.setPending(writer, pending);
  }

  async close(): Promise<void> {}
}

interface Harness {
  sink: Sink<StreamRecord<{ n: number }>>;
  store: FlakyStore;
  metrics: Metrics;
  fatal: unknown[];
}

async function harness(options: Partial<OnlineStateOptions<{ n: number }>> = {}): Promise<Harness> {
  const store = new FlakyStore();
  const metrics = new Metrics();
  const fatal: unknown[] = [];
  const environment: SinkEnvironment = {
    topology: 'test',
    logger: silentLogger,
    metrics,
    clickhouse: () => Promise.reject(new Error('unused')),
    state: async () => store,
    push: () => undefined,
    kafkaProducer: () => Promise.reject(new Error('unused')),
    schemasDir: '',
    fail: (error) => fatal.push(error),
  };
  const sink = onlineState<{ n: number }>({ prefix: 'f:', maxDelayMs: 5, retry: { initialDelayMs: 5, maxDelayMs: 20 }, ...options }).create(environment);
  await sink.open();
  return { sink, store, metrics, fatal };
}

function record(key: string, n: number): StreamRecord<{ n: number }> {
  return { key, value: { n }, eventTime: 1_000 + n, topic: 't', partition: 0, offset: '' };
}

/** A token as the source holds it: one reference of its own, released after the pipeline pass. */
function token(done: () => void = () => {}): AckToken {
  return new AckToken('t-0', 1n, 1, done);
}

async function metric(metrics: Metrics, name: string): Promise<number> {
  const found = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return found?.values.find((v) => v.labels.store === 'state:f:')?.value ?? 0;
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(2);
  }
}

async function stored(store: FlakyStore, key: string): Promise<number | undefined> {
  return (await store.inner.get<OnlineStateValue<{ n: number }>>(key))?.value.n;
}

test('healthy: the latest value per key is written, and rows are acknowledged only after the write', async () => {
  const { sink, store, metrics } = await harness();
  let acked = 0;
  const t = token(() => acked++);
  sink.write([record('a', 1), record('b', 1), record('a', 2)], [t]);
  t.release(); // the source's own reference
  assert.equal(acked, 0, 'held until the store has the values');
  await until('the write', () => acked === 1);
  assert.equal(await stored(store, 'f:a'), 2);
  assert.equal(await stored(store, 'f:b'), 1);
  const lookup = await store.lookup<OnlineStateValue<{ n: number }>>('f:a');
  assert.equal(lookup.stale, false);
  assert.ok(lookup.ageMs !== undefined && lookup.ageMs >= 0 && lookup.ageMs < 5_000, `age ${lookup.ageMs}`);
  assert.equal(lookup.value?.eventTime, 1_002);
  assert.equal(await metric(metrics, 'tributary_state_conflated_updates_total'), 1);
  assert.equal(await metric(metrics, 'tributary_state_degraded'), 0);
  await sink.close();
});

test('outage: the sink never blocks, acknowledges rows, conflates, and writes the latest values once the store is back', async () => {
  const { sink, store, metrics } = await harness();
  store.down = true;
  let acked = 0;
  let pushed = 0;
  const latest = new Map<string, number>();
  for (let n = 0; n < 200; n++) {
    const rows = [record(`k${n % 7}`, n), record(`k${(n * 3) % 7}`, n)];
    for (const row of rows) latest.set(row.key, n);
    const t = token(() => acked++);
    assert.equal(sink.isFull(), false, 'never full while the store is down');
    sink.write(rows, [t]);
    t.release();
    pushed++;
    await sink.whenReady(); // resolves at once
    if (n % 20 === 0) await delay(3);
  }
  await until('degraded', async () => (await metric(metrics, 'tributary_state_degraded')) === 1);
  await until('every row acknowledged', () => acked === pushed);
  assert.ok(store.failedWrites >= 1);
  assert.equal(store.stale, true, 'lookups are stale while values are pending');
  await assert.rejects(store.lookup('f:k0'), (error: unknown) => error instanceof StateUnavailableError && error.retriable);
  assert.ok((await metric(metrics, 'tributary_state_write_failures_total')) >= 1);
  assert.ok((await metric(metrics, 'tributary_state_conflated_updates_total')) > 300);
  assert.equal(await metric(metrics, 'tributary_state_dropped_updates_total'), 0);
  await delay(30);

  store.down = false;
  await until('recovered', async () => (await metric(metrics, 'tributary_state_degraded')) === 0);
  for (const [key, n] of latest) assert.equal(await stored(store, `f:${key}`), n, `latest value of ${key}`);
  assert.equal(store.stale, false);
  assert.equal((await store.lookup('f:k0')).stale, false);
  assert.ok((await metric(metrics, 'tributary_state_degraded_seconds_total')) >= 0.025);
  await sink.close();
});

test('a write that fails while newer values arrived keeps the newer value per key', async () => {
  const { sink, store } = await harness();
  store.hold();
  sink.write([record('a', 1), record('b', 1)], []);
  await until('the write in flight', () => store.writes === 1);
  sink.write([record('a', 2)], []); // arrives while the first write is in flight
  store.release(true); // the in-flight write fails: a=1 and b=1 go back behind a=2
  await until('rewritten', async () => (await stored(store, 'f:b')) === 1);
  assert.equal(await stored(store, 'f:a'), 2);
  await sink.close();
});

test('beyond maxPendingKeys the oldest pending updates are dropped and counted', async () => {
  const { sink, store, metrics } = await harness({ maxPendingKeys: 3 });
  store.down = true;
  sink.write([record('a', 1), record('b', 1), record('c', 1)], []);
  await until('degraded', async () => (await metric(metrics, 'tributary_state_degraded')) === 1);
  sink.write([record('a', 2)], []); // a is now the newest update: b is the oldest
  sink.write([record('d', 1)], []);
  sink.write([record('e', 1)], []);
  assert.equal(await metric(metrics, 'tributary_state_dropped_updates_total'), 2);
  assert.equal(await metric(metrics, 'tributary_state_pending_keys'), 3);
  store.down = false;
  await until('recovered', async () => (await metric(metrics, 'tributary_state_degraded')) === 0);
  assert.deepEqual([await stored(store, 'f:a'), await stored(store, 'f:b'), await stored(store, 'f:c'), await stored(store, 'f:d'), await stored(store, 'f:e')], [2, undefined, undefined, 1, 1]);
  await sink.close();
});

test('flush and close while the store is down return instead of hanging; what is left is counted as dropped', async () => {
  const { sink, store, metrics } = await harness({ retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
  store.down = true;
  let acked = 0;
  const t = token(() => acked++);
  sink.write([record('a', 1), record('b', 1)], [t]);
  t.release();
  const started = performance.now();
  await sink.flush();
  assert.equal(acked, 1, 'acknowledged: the sink took responsibility');
  await sink.close();
  // Hanging would mean waiting out the 60 s retry delay.
  assert.ok(performance.now() - started < 20_000, `took ${performance.now() - started} ms`);
  assert.equal(await metric(metrics, 'tributary_state_dropped_updates_total'), 2);
});

test('a value the store can never accept stops the engine after 3 attempts and keeps its rows unacknowledged', async () => {
  const { sink, store, fatal } = await harness();
  store.reject = true;
  let acked = 0;
  const t = token(() => acked++);
  sink.write([record('a', 1)], [t]);
  t.release();
  await until('fatal', () => fatal.length === 1);
  assert.equal(store.writes, 3);
  assert.equal(acked, 0);
  assert.equal(sink.isFull(), true);
  await assert.rejects(sink.whenReady());
  assert.throws(() => sink.write([record('b', 1)], []));
});

test('values whose ttl ran out while pending are not written', async () => {
  const { sink, store, metrics } = await harness({ ttl: '40ms' as never });
  store.down = true;
  sink.write([record('old', 1)], []);
  await until('degraded', async () => (await metric(metrics, 'tributary_state_degraded')) === 1);
  await delay(60);
  sink.write([record('new', 1)], []);
  store.down = false;
  await until('recovered', async () => (await metric(metrics, 'tributary_state_degraded')) === 0);
  assert.equal(await stored(store, 'f:old'), undefined);
  assert.equal(await stored(store, 'f:new'), 1);
  await sink.close();
});
