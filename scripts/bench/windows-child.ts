/**
 * One engine drain of the windows bench (kafka-windows.ts), in its own process so its peak RSS
 * (VmHWM) is its own: the engine code of BENCH_ROOT (this checkout, or another such as main's,
 * for a before/after in one run) reads BENCH_TOPIC from the beginning, keeps a 1-minute tumbling
 * count/sum/max/min/last of the amount per card and writes the windows into a ClickHouse table.
 * Prints one JSON line: startup, the steady rate (10% to 90% of the events), total, peak RSS.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Api from '../../src/index.ts';
import type * as EngineApi from '../../src/engine.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';

const root = path.resolve(process.env.BENCH_ROOT ?? path.join(import.meta.dirname, '../..'));
const n = Number(process.env.BENCH_EVENTS);
const api = (await import(pathToFileURL(path.join(root, 'src/index.ts')).href)) as typeof Api;
const { Engine, loadConfig } = (await import(pathToFileURL(path.join(root, 'src/engine.ts')).href)) as typeof EngineApi;
const { silentLogger } = (await import(pathToFileURL(path.join(root, 'src/observability/logger.ts')).href)) as typeof import('../../src/observability/logger.ts');
const { aggregate, clickhouseTable, count, defineTopology, inClear, kafkaTopic, keyBy, last, map, max, min, sum, tumbling } = api;

interface CardMinute {
  cardId: string;
  windowStart: number;
  windowEnd: number;
  count: number;
  sum: number;
  max: number;
  min: number;
  last: number;
}

const topology = defineTopology({
  name: 'bench-windows',
  source: kafkaTopic<Payment>({ topic: process.env.BENCH_TOPIC!, format: 'avro-confluent', eventTime: (p) => p.ts }),
  pipeline: (payments) => ({
    minutes: payments.pipe(
      keyBy((p) => p.cardId),
      tumbling('1m', { stagger: process.env.BENCH_STAGGER || undefined }),
      aggregate({ count: count(), sum: sum((p: Payment) => p.amount), max: max((p: Payment) => p.amount), min: min((p: Payment) => p.amount), last: last((p: Payment) => p.amount) }),
      map((w): CardMinute => ({ cardId: w.key, windowStart: w.windowStart, windowEnd: w.windowEnd, count: w.count, sum: w.sum, max: w.max, min: w.min, last: w.last ?? 0 })),
    ),
  }),
  sinks: { raw: [], minutes: [clickhouseTable<CardMinute>(process.env.BENCH_TABLE!, { schema: 'card_minute.avsc', orderBy: ['cardId', 'windowStart'] })] },
  governance: inClear(), // synthetic payments
});

const vm = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const t0 = performance.now();
const engine = await Engine.start(topology, { config: loadConfig(), logger: silentLogger });
const startupSeconds = (performance.now() - t0) / 1000;
let failure: unknown;
engine.done.catch((error: unknown) => (failure = error));
const marks: number[] = []; // seconds at which 10% and 90% of the events were processed
let peakHeapMb = 0;
let peakExternalMb = 0;
for (let polls = 0; engine.stats().processedRecords < n; polls++) {
  if (failure !== undefined) throw failure;
  const done = engine.stats().processedRecords;
  if (marks.length === 0 && done >= n * 0.1) marks.push(performance.now());
  if (marks.length === 1 && done >= n * 0.9) marks.push(performance.now());
  if (polls % 10 === 0) {
    const memory = process.memoryUsage();
    peakHeapMb = Math.max(peakHeapMb, memory.heapUsed / 2 ** 20);
    peakExternalMb = Math.max(peakExternalMb, (memory.external + memory.arrayBuffers) / 2 ** 20);
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const processedSeconds = (performance.now() - t0) / 1000;
if (marks.length === 1) marks.push(performance.now());
await engine.stop();
if (failure !== undefined) throw failure;
process.stdout.write(
  `${JSON.stringify({
    startupSeconds,
    processedSeconds,
    steadyEventsPerSecond: (0.8 * n) / ((marks[1]! - marks[0]!) / 1000),
    eventsPerSecond: n / (processedSeconds - startupSeconds),
    peakRssMb: vm('VmHWM'),
    peakHeapUsedMb: peakHeapMb,
    peakExternalMb,
    heapLimitMb: (await import('node:v8')).getHeapStatistics().heap_size_limit / 2 ** 20,
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    execArgv: process.execArgv.filter((flag) => flag.startsWith('--max')),
  })}\n`,
);
process.exit(0);
