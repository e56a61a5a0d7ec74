import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { Engine } from '../../../src/runtime/engine.ts';
import { generatorSource } from '../../../src/sources/generator/generator-source.ts';
import { defineTopology } from '../../../src/topology/define-topology.ts';
import { keyBy } from '../../../src/operators/key-by.ts';
import { tumbling } from '../../../src/operators/windows/tumbling.ts';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { count } from '../../../src/operators/windows/aggregations.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { StageLatency } from '../../../src/observability/stage-latency.ts';
import { localEngineConfig } from '../../helpers/local-engine-config.ts';
import type { Sink, SinkSpec } from '../../../src/sinks/sink.ts';
import type { AckToken } from '../../../src/core/ack.ts';

const config = localEngineConfig();

/** A sink that keeps what it is given: `holdMs` > 0 releases the acks that much later (a destination's acknowledgement), 0 never retains them (a WebSocket channel). */
function recordingSink(name: string, holdMs: number, rows: unknown[]): SinkSpec<unknown> {
  const timers = new Set<NodeJS.Timeout>();
  return {
    description: name,
    create: (): Sink<unknown> => ({
      name,
      open: async () => {},
      write(batch: readonly unknown[], acks: readonly AckToken[]) {
        rows.push(...batch);
        if (holdMs === 0) return;
        for (const token of acks) token.retain();
        const timer = setTimeout(() => {
          timers.delete(timer);
          for (const token of acks) token.release();
        }, holdMs);
        timers.add(timer);
      },
      isFull: () => false,
      whenReady: async () => {},
      flush: async () => {
        while (timers.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
      },
      close: async () => {},
    }),
  };
}

/** Per label set (joined with '/'), the _count and _sum of `metric` in the registry's text. */
async function histogramTotals(metrics: Metrics, metric: string): Promise<Map<string, { count: number; sum: number }>> {
  const text = await metrics.registry.metrics();
  const totals = new Map<string, { count: number; sum: number }>();
  for (const match of text.matchAll(new RegExp(`^${metric}_(count|sum)\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const labels = [...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].filter(([, name]) => name !== 'topology').map(([, , value]) => value).join('/');
    const entry = totals.get(labels) ?? { count: 0, sum: 0 };
    entry[match[1] as 'count' | 'sum'] = Number(match[3]);
    totals.set(labels, entry);
  }
  return totals;
}

test('the engine times the close path: windows closed, each sink acknowledged, processing latency per sink', async () => {
  // 3,000 events over 3 s of event time for 12 users: 12 one-minute windows, closed at the end of input.
  const source = generatorSource<{ user: string; ts: number }>({
    events: () => {
      let i = 0;
      return { next: (time) => ({ user: `u${i++ % 12}`, ts: time }) };
    },
    eventTime: (e) => e.ts,
    eventsPerSecond: 1_000,
    pace: 'max',
    limit: 3_000,
    startTime: Date.UTC(2026, 0, 1),
  });
  const acked: unknown[] = [];
  const sent: unknown[] = [];
  const raw: unknown[] = [];
  const topology = defineTopology({
    name: 'timed',
    source,
    demoSource: source,
    pipeline: (events) => ({ counts: events.pipe(keyBy((e) => e.user), tumbling('1m'), aggregate({ n: count() }, { name: 'per-user' })) }),
    sinks: { counts: [recordingSink('slow', 50, acked), recordingSink('ws:counts', 0, sent)], raw: [recordingSink('raw-store', 0, raw)] },
  });
  const metrics = new Metrics();
  const engine = await Engine.start(topology, { config, logger: silentLogger, metrics, push: false });
  await engine.done;
  await engine.stop();
  assert.equal(acked.length, 12);
  assert.equal(sent.length, 12);
  assert.equal(raw.length, 3_000);

  const stages = await histogramTotals(metrics, 'tributary_stage_latency_seconds');
  assert.deepEqual([...stages.keys()].sort(), ['closed/', 'sink/slow', 'sink/ws:counts']);
  for (const entry of stages.values()) assert.equal(entry.count, 12, 'one observation per closed window');
  // The slow sink acknowledged 50 ms after its write: its rows waited at least that long.
  assert.ok(stages.get('sink/slow')!.sum >= 12 * 0.045, `sum ${stages.get('sink/slow')!.sum}`);
  assert.ok(stages.get('sink/slow')!.sum > stages.get('sink/ws:counts')!.sum);

  const processing = await histogramTotals(metrics, 'tributary_processing_latency_seconds');
  assert.deepEqual(Object.fromEntries([...processing].map(([sink, { count }]) => [sink, count])), { slow: 12, 'ws:counts': 12, 'raw-store': 3_000 });
});

test('a batch that closed no window adds nothing to the stages after it; rows of a batch share one observation', async () => {
  const registry = new Registry();
  const latency = new StageLatency(registry, 't');
  const quiet = latency.begin(performance.now() - 20);
  quiet.note('joined', 5);
  quiet.note('scored', 5);
  quiet.acknowledged('ws:x', 5, true);
  const closing = latency.begin(performance.now() - 20);
  closing.note('closed', 3);
  closing.note('scored', 3);
  closing.acknowledged('ws:x', 3, true);
  closing.acknowledged('store', 7, false);
  const count = (series: ReturnType<StageLatency['stage']>) => series.count;
  assert.equal(count(latency.stage('joined', '')), 0);
  assert.equal(count(latency.stage('closed', '')), 3);
  assert.equal(count(latency.stage('scored', '')), 3);
  assert.equal(count(latency.stage('sink', 'ws:x')), 3, 'the quiet batch is no close');
  assert.equal(count(latency.stage('sink', 'store')), 0, 'not a window output');
  assert.equal(latency.processingOf('ws:x').count, 8);
  assert.equal(latency.processingOf('store').count, 7);
  // 20 ms and more since arrival: every observation lands in a bucket above 10 ms.
  const counts = latency.processingOf('ws:x').counts;
  assert.equal(counts[0]! + counts[1]! + counts[2]! + counts[3]!, 0);
});
