/**
 * Online p99 latency of the card-fraud topology with and without a concurrent backfill on the
 * same machine (issue 5, item 8: at most +20% while a low-priority backfill runs).
 *
 *   node --import tsx scripts/bench-hybrid.ts [--seconds 60] [--rate 2000] [--events 1000000] [--cycles 1] [--backfill-rate N] [--keep]
 *
 * Needs the real services (eval "$(bash scripts/services.sh env)"). One run, four phases of
 * --seconds each: baseline; a backfill through the job runner at low priority (nice 19, its own
 * autogroup, I/O idle: src/jobs/low-priority.ts); baseline again; the same backfill at normal
 * priority, a plain child process (what the priority buys). A backfill that ends early is
 * started again. --cycles repeats the four phases and adds pooled rows.
 *
 * Online: the engine runs the topology as its own process (`tributary run
 * test/fixtures/card-fraud-from-env.ts`) on a fresh 3-partition topic; this process produces
 * --rate payments/s (Avro, ts = now, none late) and subscribes to channel 'fraud' over WebSocket.
 *
 * Latency: a window ending at windowEnd can be closed once the watermark (max event time - 5 s
 * out-of-orderness, min over partitions) passes windowEnd + 10 s grace, i.e. once events of
 * windowEnd + 15 s arrive; being produced with ts = now, they arrive at about that wall time. So
 * latency = receive time - (windowEnd + 5 s + 10 s): what the engine adds between the moment a
 * result can exist and its delivery (Kafka, windows, ONNX, WebSocket). The windows of all cards
 * end on the minute, so predictions come in one burst a minute (one per active card): phases
 * are whole minutes, each holding that many bursts; a warm-up burst comes first.
 *
 * Backfill: its events table (a payments table of another table prefix, created by running the
 * topology once with that prefix) is seeded with --events generated payments; the backfill
 * replays them all. Its events/s: events it read during the phase (its progress lines, every
 * 5 s, and its summary; so it runs without --no-progress) / phase length, startup included.
 */
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { Command, InvalidArgumentError } from 'commander';
import os from 'node:os';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { startJob, type RunningJob } from '../src/jobs/job-runner.ts';
import { CardPaymentModel, type Payment } from '../src/sources/generator/card-payments.ts';
import { WINDOW_GRACE } from '../topologies/card-fraud-features.ts';
import { toMillis } from '../src/core/duration.ts';
import { startEngineProcess, type EngineProcess } from '../test/helpers/engine-process.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { createPaymentsTopic, type PaymentsTopic } from '../test/helpers/payments-topic.ts';
import { clickhouse, queryRows, requireService, uniqueName, waitFor } from '../test/helpers/services.ts';
import { wholeNumber } from './bench/options.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
const FIXTURE = 'test/fixtures/card-fraud-from-env.ts';
/** The topology's out-of-orderness (topologies/card-fraud.ts) plus its windows' grace. */
const CLOSE_AFTER_MS = 5_000 + toMillis(WINDOW_GRACE);
const MINUTE = 60_000;

const opts = new Command()
  .name('bench-hybrid')
  .option('--seconds <n>', 'length of each phase, a multiple of 60 (windows close once a minute)', wholeNumber, 60)
  .option('--rate <n>', 'online payments per second', wholeNumber, 2_000)
  .option('--events <n>', 'payments seeded for the backfill to replay', wholeNumber, 1_000_000)
  .option('--cycles <n>', 'times to run the four phases (more averages out other load on the machine)', wholeNumber, 1)
  .option('--backfill-rate <n>', 'the backfill runs with --max-rate <n> events/s (default: no limit)', wholeNumber)
  .option('--keep', 'keep the ClickHouse tables')
  .parse(process.argv)
  .opts<{ seconds: number; rate: number; events: number; cycles: number; backfillRate?: number; keep?: boolean }>();
if (opts.seconds % 60 !== 0) throw new InvalidArgumentError('--seconds must be a multiple of 60');

interface Phase {
  name: string;
  backfill?: 'nice 19' | 'normal priority';
  start: number;
  end: number;
  latencies: number[];
  events: number;
  runs: number;
  load: number;
}

const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleepUntil = (t: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, t - Date.now())));

function engineEnv(topic: string, prefix: string, port: number): NodeJS.ProcessEnv {
  return { ...process.env, PORT: String(port), FRAUD_TEST_TOPIC: topic, FRAUD_TEST_PREFIX: prefix, TRIBUTARY_GROUP_ID: uniqueName('hybrid'), LOG_LEVEL: 'warn' };
}

async function ready(engine: EngineProcess, port: number): Promise<void> {
  await waitFor('the engine to be ready', async () => {
    if (engine.child.exitCode !== null) throw new Error(`the engine exited:\n${engine.output().slice(-2_000)}`);
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
  }, (status) => status === 200, 120_000);
}

/** Inserts `count` payments at 2,000/s of event time, a day back, into the seed table; returns [from, to). */
async function seed(table: string, count: number): Promise<[number, number]> {
  const client = createClient({ url: requireService('CLICKHOUSE_URL'), request_timeout: 120_000, log: { level: ClickHouseLogLevel.OFF } });
  const from = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000 + 3_600_000;
  const model = new CardPaymentModel({ seed: 11, lateShare: 0 });
  let to = from;
  for (let done = 0; done < count;) {
    const rows: Array<Payment & { _topic: string; _partition: number; _offset: number }> = [];
    for (const end = Math.min(count, done + 50_000); done < end; done++) {
      const p = model.next(from + done / 2).payment;
      rows.push({ ...p, ts: Math.max(p.ts, from), _topic: 'seed', _partition: 0, _offset: done });
      to = Math.max(to, p.ts + 1);
    }
    // A loaded server may drop a kept-alive connection (EPIPE): the same rows again, at most 3 times.
    for (let attempt = 1; ; attempt++) {
      try {
        await client.insert({ table, values: rows, format: 'JSONEachRow' });
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        log(`seed insert failed (${error instanceof Error ? error.message : String(error)}), again`);
      }
    }
  }
  await client.close();
  return [from, to];
}

/** Produces `rate` payments/s with ts = now until stop() resolves. */
function produce(topic: PaymentsTopic, rate: number): { stop: () => Promise<number> } {
  const model = new CardPaymentModel({ seed: 5, lateShare: 0 });
  let stopped = false;
  let sent = 0;
  const started = Date.now();
  const loop = (async () => {
    while (!stopped) {
      const due = Math.floor(((Date.now() - started) * rate) / 1000) - sent;
      if (due > 0) {
        const now = Date.now();
        const payments = Array.from({ length: due }, () => ({ ...model.next(now).payment, ts: now }));
        await topic.producer.send(topic.topic, payments.map((p) => ({ key: p.cardId, value: topic.encode(p) })));
        sent += due;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return { stop: async () => ((stopped = true), await loop, sent) };
}

/** Subscribes to 'fraud'; calls `onPrediction(windowEnd, receivedAt)` for each prediction. */
async function subscribe(port: number, onPrediction: (windowEnd: number, receivedAt: number) => void): Promise<WebSocket> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.on('message', (raw) => {
    const receivedAt = Date.now();
    const message = JSON.parse(raw.toString()) as { type: string; data?: { windowEnd: number } };
    if (message.type === 'data' && message.data) onPrediction(message.data.windowEnd, receivedAt);
  });
  socket.send(JSON.stringify({ type: 'subscribe', channel: 'fraud', snapshot: false }));
  return socket;
}

/** Runs the backfill over and over until `until`; returns events read and runs started. */
async function backfillDuring(phase: Phase, env: Record<string, string>, range: [number, number]): Promise<void> {
  let read = 0;
  const logger = pino({ level: 'info' }, {
    write(line: string) {
      const { msg = '', level = 0 } = JSON.parse(line) as { msg?: string; level?: number };
      const progress = /^backfill: (\d+) of \d+ events/.exec(msg);
      const summary = / done: (\d+) events in /.exec(msg);
      if (progress) read = Number(progress[1]);
      if (summary) read = Number(summary[1]);
      if (/^job .* (started|finished|stopped)/.test(msg) || /^tributary: /.test(msg) || level >= 50) log(`  ${msg}`);
    },
  });
  const command = ['backfill', FIXTURE, '--from', String(range[0]), '--to', String(range[1]), ...(opts.backfillRate ? ['--max-rate', String(opts.backfillRate)] : [])];
  let job: RunningJob | undefined;
  const timer = setTimeout(() => void job?.stop(), phase.end - Date.now());
  while (Date.now() < phase.end - 1_000) {
    read = 0;
    job = startJob('backfill', command, { logger, env, lowPriority: phase.backfill === 'nice 19', killGraceMs: 2_000 });
    phase.runs++;
    const result = await job.done;
    phase.events += read;
    if (result.exitCode !== 0 && !result.stopped) await sleepUntil(Math.min(phase.end, Date.now() + 2_000));
  }
  clearTimeout(timer);
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function dropTables(prefixes: string[]): Promise<void> {
  const client = clickhouse();
  const tables = await queryRows<{ name: string; engine: string }>(client, `SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND (${prefixes.map((p) => `startsWith(name, '${p}')`).join(' OR ')})`);
  // Views first: dropping one drops its inner table.
  for (const t of tables.sort((a, b) => Number(b.engine === 'MaterializedView') - Number(a.engine === 'MaterializedView'))) {
    await client.command({ query: `DROP TABLE IF EXISTS \`${t.name}\`` }).catch(() => {});
  }
  await client.close();
}

/** Engines this run started: stopped when it exits, whatever happens. */
const engines: EngineProcess[] = [];
process.once('exit', () => {
  for (const engine of engines) if (engine.child.exitCode === null) engine.child.kill('SIGTERM');
});

async function measure(brokers: string[], prefixes: [string, string]): Promise<{ phases: Phase[]; produced: number }> {
  const [onlinePrefix, seedPrefix] = prefixes;
  const [topic, seedTopic] = await Promise.all([createPaymentsTopic(brokers, { partitions: 3, name: 'hybrid' }), createPaymentsTopic(brokers, { partitions: 1, name: 'hybrid_seed' })]);
  const [port, seedPort] = [await freePort(), await freePort()];
  log(`starting the online engine (${onlinePrefix}, topic ${topic.topic}) and once the seed engine (${seedPrefix}) to create its tables`);
  const engine = startEngineProcess(engineEnv(topic.topic, onlinePrefix, port));
  const seedEngine = startEngineProcess(engineEnv(seedTopic.topic, seedPrefix, seedPort));
  engines.push(engine, seedEngine);
  await Promise.all([ready(engine, port), ready(seedEngine, seedPort)]);
  seedEngine.child.kill('SIGTERM');
  await seedEngine.exited;

  const phases: Phase[] = [];
  const socket = await subscribe(port, (windowEnd, receivedAt) => {
    const closable = windowEnd + CLOSE_AFTER_MS;
    phases.find((p) => p.start <= closable && closable < p.end)?.latencies.push(receivedAt - closable);
  });
  const producer = produce(topic, opts.rate);
  log(`producing ${opts.rate} payments/s; seeding ${opts.events} payments into ${seedPrefix}payments`);
  const range = await seed(`${seedPrefix}payments`, opts.events);
  // A warm-up close at least 20 s from now, then phases centred on the closes.
  const warmUp = Math.ceil((Date.now() + 20_000 - CLOSE_AFTER_MS) / MINUTE) * MINUTE + CLOSE_AFTER_MS;
  const first = warmUp + 30_000;
  const kinds = Array.from({ length: opts.cycles }, () => [undefined, 'nice 19', undefined, 'normal priority'] as Array<Phase['backfill']>).flat();
  kinds.forEach((backfill, i) => phases.push({ name: backfill ? `backfill, ${backfill}` : 'baseline', backfill, start: first + i * opts.seconds * 1000, end: first + (i + 1) * opts.seconds * 1000, latencies: [], events: 0, runs: 0, load: 0 }));
  log(`warm-up burst at ${new Date(warmUp).toISOString()}; phases from ${new Date(first).toISOString()} to ${new Date(phases.at(-1)!.end).toISOString()}`);
  const env = { FRAUD_TEST_TOPIC: seedTopic.topic, FRAUD_TEST_PREFIX: seedPrefix, LOG_LEVEL: 'warn' };
  for (const phase of phases) {
    await sleepUntil(phase.start);
    log(`phase: ${phase.name}`);
    if (phase.backfill) await backfillDuring(phase, env, range);
    await sleepUntil(phase.end);
    phase.load = os.loadavg()[0]!;
  }
  const produced = await producer.stop();
  socket.close();
  engine.child.kill('SIGTERM');
  await engine.exited;
  await Promise.all([topic.close(), seedTopic.close()]);
  return { phases, produced };
}

function row(name: string, phases: Phase[], baseP99: number): string {
  const sorted = phases.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const p99 = percentile(sorted, 99);
  const backfill = phases[0]!.backfill !== undefined;
  const versus = backfill ? `${p99 >= baseP99 ? '+' : ''}${Math.round(((p99 - baseP99) / baseP99) * 100)}%` : '-';
  const rate = backfill ? `${Math.round(phases.reduce((sum, p) => sum + p.events, 0) / (phases.length * opts.seconds))} (${phases.reduce((sum, p) => sum + p.runs, 0)} runs)` : '-';
  const load = phases.reduce((sum, p) => sum + p.load, 0) / phases.length;
  return `| ${name} | ${sorted.length} | ${percentile(sorted, 50)} | ${p99} | ${sorted.at(-1) ?? NaN} | ${versus} | ${rate} | ${load.toFixed(1)} |`;
}

function report(phases: Phase[], produced: number): string {
  const baselines = phases.filter((p) => !p.backfill);
  const baseP99 = percentile(baselines.flatMap((p) => p.latencies).sort((a, b) => a - b), 99);
  const kinds = ['baseline', 'backfill, nice 19', 'backfill, normal priority'];
  return [
    '',
    `Online latency = WebSocket receive time - (windowEnd + ${CLOSE_AFTER_MS} ms: out-of-orderness + grace), ms; ${opts.rate} payments/s (${produced} produced), phases of ${opts.seconds} s.`,
    '',
    '| phase | predictions | p50 | p99 | max | p99 vs baseline | backfill events/s | load (1 min) |',
    '|---|---|---|---|---|---|---|---|',
    ...phases.map((p) => row(p.name, [p], baseP99)),
    ...(opts.cycles > 1 ? kinds.map((kind) => row(`**all ${kind}**`, phases.filter((p) => p.name === kind), baseP99)) : []),
    '',
    `Baseline p99: over all baseline phases, ${baseP99} ms. Machine: ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}.`,
    '',
  ].join('\n');
}

const brokers = requireService('KAFKA_BROKERS').split(',');
requireService('CLICKHOUSE_URL');
requireService('REDIS_URL');
log(`node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${JSON.stringify(opts)}`);
const prefixes: [string, string] = [`${uniqueName('hyb')}_`, `${uniqueName('hybseed')}_`];
try {
  const { phases, produced } = await measure(brokers, prefixes);
  process.stdout.write(report(phases, produced));
} catch (error) {
  process.stderr.write(`bench-hybrid: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  if (!opts.keep) await dropTables(prefixes);
}
process.exit();
