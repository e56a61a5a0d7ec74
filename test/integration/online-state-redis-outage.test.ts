import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { AckToken } from '../../src/core/ack.ts';
import type { StreamRecord } from '../../src/core/batch.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { Engine } from '../../src/runtime/engine.ts';
import { onlineState, type OnlineStateValue } from '../../src/sinks/online-state.ts';
import type { Sink, SinkSpec } from '../../src/sinks/sink.ts';
import type { Source, SourceContext, SourceSpec } from '../../src/sources/source.ts';
import { StateUnavailableError } from '../../src/state/key-value-store.ts';
import { RedisCheckpointStore } from '../../src/state/redis-checkpoint-store.ts';
import { defineTopology } from '../../src/topology/define-topology.ts';
import { loadConfig } from '../../src/topology/config.ts';
import { uniqueName } from '../helpers/services.ts';
import { freePort } from '../helpers/free-port.ts';

/**
 * Redis goes away mid-stream and comes back. This test runs its OWN redis-server on a free port
 * (never the shared one on 6379, which other tests use), kills it for 3 s and restarts it.
 */

interface Tick {
  seq: number;
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (is it installed? \`which redis-server\`)`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => (socket.end(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (up) return child;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
    await delay(50);
  }
}

async function stopRedis(child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Pushes 20 records over 50 keys every 10 ms and remembers the latest seq per key and what was acknowledged. */
class TickSource implements Source<Tick> {
  readonly description = 'ticks';
  readonly latest = new Map<string, number>();
  pushed = 0;
  acked = 0;
  longestPushMs = 0;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  async start(context: SourceContext<Tick>): Promise<void> {
    this.running = true;
    context.assigned(['ticks:0']);
    this.loop = this.run(context).catch((error) => context.fail(error));
  }

  private async run(context: SourceContext<Tick>): Promise<void> {
    let seq = 0;
    while (this.running) {
      const now = Date.now();
      const records: StreamRecord<Tick>[] = [];
      for (let i = 0; i < 20; i++, seq++) {
        const key = `c${(seq * 7) % 50}`;
        this.latest.set(key, seq);
        records.push({ key, value: { seq }, eventTime: now, topic: 'ticks', partition: 0, offset: String(seq) });
      }
      const token = new AckToken('ticks:0', BigInt(seq - 1), records.length, () => (this.acked += records.length));
      const started = performance.now();
      await context.push({ partitionKey: 'ticks:0', records, deadLetters: [], maxEventTime: now, token });
      this.longestPushMs = Math.max(this.longestPushMs, performance.now() - started);
      this.pushed += records.length;
      await delay(10);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  async commit(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Stands in for the ClickHouse and WebSocket sinks: counts rows, acknowledges at once. */
function countingSink(counter: { rows: number }): SinkSpec<StreamRecord<Tick>> {
  const sink: Sink<StreamRecord<Tick>> = {
    name: 'counter',
    open: async () => {},
    write: (rows) => void (counter.rows += rows.length),
    isFull: () => false,
    whenReady: async () => {},
    flush: async () => {},
    close: async () => {},
  };
  return { description: 'counter', create: () => sink };
}

async function gauge(metrics: Metrics, name: string): Promise<number> {
  const found = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return found?.values.find((v) => v.labels.store === 'state:tick:')?.value ?? 0;
}

async function waitUntil(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(25);
  }
}

test('Redis down for 3 s mid-stream: the engine degrades instead of stalling, and Redis ends with the latest value per key', { timeout: 90_000 }, async (t) => {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let redis: ChildProcess | null = await startRedis(port);
  t.after(() => stopRedis(redis));

  const source = new TickSource();
  const spec: SourceSpec<Tick> = { description: 'ticks', outOfOrdernessMs: 0, eventTime: () => Date.now(), create: () => source };
  const counter = { rows: 0 };
  const name = uniqueName('outage').replace(/_/g, '-');
  const topology = defineTopology({
    name,
    source: spec,
    pipeline: (events) => ({ latest: events }),
    sinks: { latest: [onlineState<Tick>({ prefix: 'tick:', maxDelayMs: 20, retry: { initialDelayMs: 50, maxDelayMs: 400 } }), countingSink(counter)] },
  });
  const metrics = new Metrics();
  const config = loadConfig({ REDIS_URL: url, PORT: '0', TRIBUTARY_COMMIT_INTERVAL_MS: '200' });
  const engine = await Engine.start(topology, { config, logger: silentLogger, metrics, push: false, source: spec as SourceSpec<unknown> });
  t.after(() => engine.stop());
  const store = await engine.environment.sinkEnvironment.state();
  const checkpoints = await RedisCheckpointStore.connect(url, { topology: name, groupId: 'g', logger: silentLogger });
  t.after(() => checkpoints.close());

  await waitUntil('rows written while healthy', () => source.acked > 500);
  assert.equal(await gauge(metrics, 'tributary_state_degraded'), 0);

  // Outage.
  await stopRedis(redis);
  redis = null;
  const killedAt = Date.now();
  const rowsAtKill = counter.rows;
  await waitUntil('degraded', async () => (await gauge(metrics, 'tributary_state_degraded')) === 1, 5_000);
  assert.equal(store.stale, true);
  let started = performance.now();
  await assert.rejects(store.lookup('tick:c0'), (error: unknown) => error instanceof StateUnavailableError && error.retriable);
  assert.ok(performance.now() - started < 2_500, `a lookup during the outage took ${performance.now() - started} ms`);
  started = performance.now();
  const checkpoint = { version: 2 as const, topology: name, partition: 't:0', offset: '1', clock: { max: 0, watermark: 0 }, steps: new Map(), savedAt: 0 };
  const bytes = await checkpoints.save([checkpoint]).catch((error: unknown) => error);
  assert.ok(bytes instanceof Error, 'a checkpoint save fails during the outage');
  assert.ok(performance.now() - started < 2_500, `a checkpoint save during the outage took ${performance.now() - started} ms`);
  const ackedEarly = source.acked;
  await delay(Math.max(0, killedAt + 3_000 - Date.now()));
  assert.ok(counter.rows > rowsAtKill + 2_000, `the other sink kept receiving rows (${counter.rows - rowsAtKill} during the outage)`);
  assert.ok(source.acked > ackedEarly + 2_000, `rows kept being acknowledged (${source.acked - ackedEarly} during the outage)`);
  assert.equal(await gauge(metrics, 'tributary_state_degraded'), 1);

  // Back on the same port, empty (no persistence): only what the sink writes from now on is there.
  redis = await startRedis(port);
  await waitUntil('recovered', async () => (await gauge(metrics, 'tributary_state_degraded')) === 0);
  assert.equal(store.stale, false);
  await waitUntil('a checkpoint saves again', () => checkpoints.save([checkpoint]).then(() => true, () => false));
  await delay(500);
  await engine.stop();

  assert.equal(engine.stats().sinkWaits, 0, 'processing never waited for a full sink');
  // Never for the outage (3 s and more): a loaded machine may still stall a push for a moment.
  assert.ok(source.longestPushMs < 3_000, `the source waited ${source.longestPushMs} ms for room at most`);
  assert.equal(source.acked, source.pushed, 'every row was acknowledged');
  assert.ok((await gauge(metrics, 'tributary_state_write_failures_total')) >= 1);
  assert.ok((await gauge(metrics, 'tributary_state_degraded_seconds_total')) >= 2);
  assert.equal(await gauge(metrics, 'tributary_state_dropped_updates_total'), 0);

  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  t.after(() => client.quit());
  for (const [key, seq] of source.latest) {
    const text = await client.get(`tributary:${name}:tick:${key}`);
    assert.ok(text !== null, `${key} is in Redis`);
    assert.equal((JSON.parse(text) as OnlineStateValue<Tick>).value.seq, seq, `latest value of ${key}`);
  }
  assert.equal(source.latest.size, 50);
});
