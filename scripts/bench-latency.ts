/**
 * Window-close latency of the card-fraud topology on the real broker, ClickHouse server and Redis
 * (issue 17): p50/p99/p99.9 from the moment a window can close to its prediction's receipt at a
 * WebSocket client, with the engine's per-stage breakdown.
 *
 *   npm run bench:latency -- [--rate 20000] [--cards 10000] [--seconds 300] [--engine-dir DIR] [--memory-mb N] [--cpu-prof DIR] [--node-flags FLAGS] [--frames batch|single] [--transport] [--engine-log FILE] [--producer-nice 0..19] [--producer-client platformatic|kafkajs] [--stagger 1s] [--keep]
 *
 * Needs the real services (eval "$(bash scripts/services.sh env)"). The engine runs the topology
 * as its own process, started as users start it (`bin/tributary.js run
 * test/fixtures/card-fraud-from-env.ts`, so with the heap flags of TRIBUTARY_MEMORY_MB, unset
 * unless --memory-mb is given), from --engine-dir:
 * another checkout, e.g. main, for a before/after in the same conditions) on a fresh 3-partition
 * topic. A child process produces --rate payments/s (Avro, ts = now, none late) over --cards
 * cards (at --producer-nice, with --producer-client: @platformatic/kafka by default, kafkajs as
 * before 2026-12-07); this process only receives frames, so its timestamps are not held up by
 * producing.
 *
 * Latency: a window ending at windowEnd can close once the watermark (max event time - 5 s
 * out-of-orderness, min over partitions) passes windowEnd + 10 s grace, i.e. once events of
 * windowEnd + 15 s arrive, at about that wall time. latency = receipt - (windowEnd + 15 s). All
 * cards' windows end on the minute: one burst of about --cards predictions a minute. The first
 * burst is a warm-up; then --seconds (whole minutes) are measured. The stage breakdown is the
 * increase of the engine's tributary_stage_latency_seconds over the measured minutes (absent
 * on an engine that has no such metric). The engine's CPU (per minute and per payment), GC pauses
 * by kind (prom-client's nodejs_gc_duration_seconds) and RSS over the same minutes follow.
 */
import { Command, InvalidArgumentError } from 'commander';
import { fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { createKafkaClient, KAFKA_CLIENT_KINDS, type KafkaClientKind } from '../src/kafka/create-kafka-client.ts';
import { CardPaymentModel } from '../src/sources/generator/card-payments.ts';
import { createPaymentsTopic } from '../test/helpers/payments-topic.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { clickhouse, queryRows, REPO_ROOT, requireService, uniqueName, waitFor } from '../test/helpers/services.ts';
import { histogramQuantiles, parseHistogram, parseProcessSample, percentile, processLine, type Buckets, type ProcessSample } from './bench/latency-stats.ts';
import { startTransportProbe } from './bench/transport-probe.ts';
import { wholeNumber } from './bench/options.ts';
import { engineProcess, sampleAroundCloses } from './bench/cpu-contention.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
const CLOSE_AFTER_MS = 15_000;
const MINUTE = 60_000;
/** The span after each close whose CPU time is broken down (the bursts take 100-300 ms here). */
const CONTENTION_SPAN_MS = 300;

interface ProducerData { brokers: string[]; topic: string; rate: number; cards: number; client: KafkaClientKind }

/** Child process: produces `rate` payments/s with ts = now to `topic` until told to stop; posts the count. */
async function produceInWorker(data: ProducerData): Promise<void> {
  const { createAvroEncoder } = await import('../src/serde/avro.ts');
  const { LocalSchemaRegistry } = await import('../src/serde/schema-registry.ts');
  const { silentLogger } = await import('../src/observability/logger.ts');
  const kafka = createKafkaClient({ kind: data.client, brokers: data.brokers, clientId: 'bench-latency', logger: silentLogger });
  const producer = kafka.producer();
  await producer.connect();
  const encoder = createAvroEncoder({ wire: 'confluent', registry: LocalSchemaRegistry.fromDirectory(path.join(REPO_ROOT, 'schemas')), schema: 'payment.avsc' });
  const model = new CardPaymentModel({ seed: 5, cards: data.cards, lateShare: 0 });
  let stopped = false;
  process.on('message', () => (stopped = true));
  const started = Date.now();
  let sent = 0;
  while (!stopped) {
    // At most 2,000 a send: a producer that fell behind on a loaded machine must not exceed the broker's message size.
    const due = Math.min(2_000, Math.floor(((Date.now() - started) * data.rate) / 1000) - sent);
    if (due > 0) {
      const now = Date.now();
      const messages = new Array(due);
      for (let i = 0; i < due; i++) {
        const p = { ...model.next(now).payment, ts: now };
        messages[i] = { key: p.cardId, value: encoder.encode(p) };
      }
      await producer.send(data.topic, messages);
      sent += due;
    }
    if (due < 2_000) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await producer.disconnect();
  process.send!(sent, () => process.exit());
}

if (process.argv[2] === '--produce') await produceInWorker(JSON.parse(process.argv[3]!) as ProducerData);
else await main();

async function main(): Promise<void> {
  const opts = new Command()
    .name('bench-latency')
    .option('--rate <n>', 'payments per second', wholeNumber, 20_000)
    .option('--cards <n>', 'active cards (one prediction each per minute)', wholeNumber, 10_000)
    .option('--seconds <n>', 'measured time after the warm-up burst, a multiple of 60', wholeNumber, 300)
    .option('--engine-dir <dir>', 'checkout whose engine runs (default this one)', REPO_ROOT)
    .option('--memory-mb <n>', "the engine's TRIBUTARY_MEMORY_MB (default unset, as `tributary run` without a budget)", wholeNumber)
    .option('--cpu-prof <dir>', 'write the engine\'s CPU profile (node --cpu-prof) to this folder')
    .option('--node-flags <flags>', 'extra node/V8 flags for the engine process, space-separated (e.g. "--min-semi-space-size=16")', '')
    .option('--frames <kind>', "'batch': the client takes batch frames (protocol 2); 'single': a frame per prediction", 'batch')
    .option('--transport', 'also time Kafka alone: a plain consumer in this process notes when records past each close arrive')
    .option('--engine-log <file>', "write the engine's output (stdout and stderr) to this file")
    .option('--stagger <duration>', "spread the cards' windows over the minute in steps of this (the topology's staggerWindows, e.g. 1s); default aligned: one burst a minute")
    .option('--producer-nice <n>', 'nice value of the load generator (0: an equal of the engine and the services; 19: it yields the CPUs to them, as a generator on another machine would, but then it may fall behind when they are busy and stamp the closing payments late)', (text) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0 || n > 19) throw new InvalidArgumentError('expected 0 to 19');
      return n;
    }, 0)
    .option('--producer-client <client>', "the load generator's Kafka client: 'platformatic' (@platformatic/kafka, about 17 us of CPU a payment here) or 'kafkajs' (about 27 us; the generator before 2026-12-07)", 'platformatic')
    .option('--keep', 'keep the ClickHouse tables')
    .parse(process.argv)
    .opts<{ rate: number; cards: number; seconds: number; engineDir: string; memoryMb?: number; cpuProf?: string; nodeFlags: string; frames: string; stagger?: string; transport?: boolean; engineLog?: string; producerNice: number; producerClient: KafkaClientKind; keep?: boolean }>();
  if (opts.seconds % 60 !== 0) throw new InvalidArgumentError('--seconds must be a multiple of 60');
  if (opts.frames !== 'batch' && opts.frames !== 'single') throw new InvalidArgumentError("--frames must be 'batch' or 'single'");
  if (!KAFKA_CLIENT_KINDS.includes(opts.producerClient)) throw new InvalidArgumentError(`--producer-client must be one of ${KAFKA_CLIENT_KINDS.join(', ')}`);
  const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const brokers = requireService('KAFKA_BROKERS').split(',');
  requireService('CLICKHOUSE_URL');
  requireService('REDIS_URL');
  log(`node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${JSON.stringify(opts)}`);

  const prefix = `${uniqueName('lat')}_`;
  const topic = await createPaymentsTopic(brokers, { partitions: 3, name: 'latency' });
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), FRAUD_TEST_TOPIC: topic.topic, FRAUD_TEST_PREFIX: prefix, FRAUD_TEST_STATE_PREFIX: prefix, TRIBUTARY_GROUP_ID: uniqueName('latency'), LOG_LEVEL: 'warn' };
  if (opts.stagger !== undefined) env.FRAUD_TEST_STAGGER = opts.stagger;
  if (opts.memoryMb === undefined) delete env.TRIBUTARY_MEMORY_MB;
  else env.TRIBUTARY_MEMORY_MB = String(opts.memoryMb);
  const profile = [...(opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(opts.cpuProf)}`] : []), ...opts.nodeFlags.split(/\s+/).filter(Boolean)];
  const engine = spawn(process.execPath, [...profile, 'bin/tributary.js', 'run', 'test/fixtures/card-fraud-from-env.ts'], { cwd: opts.engineDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // --engine-log: everything the engine writes (e.g. with --node-flags --trace-gc), as it comes.
  const engineLog = opts.engineLog ? fs.createWriteStream(opts.engineLog) : undefined;
  const collect = (chunk: Buffer): void => {
    output = (output + chunk).slice(-10_000);
    engineLog?.write(chunk);
  };
  engine.stdout!.on('data', collect);
  engine.stderr!.on('data', collect);
  const exited = new Promise((resolve) => engine.once('exit', resolve));
  process.once('exit', () => engine.exitCode === null && engine.kill('SIGKILL'));
  try {
    await waitFor('the engine to be ready', async () => {
      if (engine.exitCode !== null) throw new Error(`the engine exited:\n${output.slice(-2_000)}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => ({ status: 0 }))).status;
    }, (status) => status === 200, 120_000);

    // Receipts, stamped before anything else is done with the frame.
    const receipts: Array<{ windowEnd: number; at: number }> = [];
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.on('message', (raw: Buffer) => {
      const at = Date.now();
      const text = raw.toString();
      if (text.startsWith('{"type":"batch"')) {
        for (const item of (JSON.parse(text) as { items: Array<{ data: { windowEnd: number } }> }).items) receipts.push({ windowEnd: item.data.windowEnd, at });
        return;
      }
      const i = text.indexOf('"windowEnd":');
      if (i >= 0 && text.startsWith('{"type":"data"')) receipts.push({ windowEnd: parseInt(text.slice(i + 12, i + 30), 10), at });
    });
    // An engine before protocol 2 ignores `batch` and sends a frame per prediction.
    socket.send(JSON.stringify({ type: 'subscribe', channel: 'fraud', snapshot: false, batch: opts.frames === 'batch' }));

    const probe = opts.transport ? await startTransportProbe(brokers, topic.topic, 3, uniqueName('latency-probe')) : undefined;
    const producingSince = Date.now();
    const data: ProducerData = { brokers, topic: topic.topic, rate: opts.rate, cards: opts.cards, client: opts.producerClient };
    // The load generator takes 0.3-0.6 of a CPU at 20,000/s on the engine's machine (0.5-0.9 with
    // kafkajs). `nice` sets all of its threads' priority (setpriority on its pid would set only
    // the main thread's).
    const script = fileURLToPath(import.meta.url);
    const args = ['--produce', JSON.stringify(data)];
    // Its GC on its own thread: a stand-in for producers on other machines should not take
    // both CPUs at once with parallel scavenges.
    const producerFlags = ['--single-threaded-gc', '--import', 'tsx'];
    const producer = opts.producerNice === 0
      ? fork(script, args, { execArgv: producerFlags })
      : spawn('nice', ['-n', String(opts.producerNice), process.execPath, ...producerFlags, script, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const produced = new Promise<number>((resolve, reject) => producer.once('message', (sent) => resolve(Number(sent))).once('error', reject).once('exit', (code) => reject(new Error(`the producer exited with ${code}`))));
    process.once('exit', () => producer.exitCode === null && producer.kill('SIGKILL'));
    // The warm-up close at least 20 s from now, then the measured closes.
    const warmUp = Math.ceil((Date.now() + 20_000 - CLOSE_AFTER_MS) / MINUTE) * MINUTE + CLOSE_AFTER_MS;
    const from = warmUp + 30_000;
    const to = from + opts.seconds * 1000;
    log(`producing ${opts.rate}/s over ${opts.cards} cards; warm-up close ${new Date(warmUp).toISOString()}, measuring closes until ${new Date(to).toISOString()}`);
    const closes = Array.from({ length: opts.seconds / 60 }, (_, i) => warmUp + (i + 1) * MINUTE);
    const contention = sampleAroundCloses({ engine: engineProcess(engine.pid!), producer: producer.pid!, client: process.pid }, closes, CONTENTION_SPAN_MS);
    const sleepUntil = (t: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, t - Date.now())));
    await sleepUntil(from);
    const [stagesBefore, processBefore] = await scrape(port);
    await sleepUntil(to);
    const [stagesAfter, processAfter] = await scrape(port);
    producer.send('stop');
    contention?.stop();
    const sent = await produced;
    socket.close();
    await probe?.stop();

    const measured = receipts.filter((r) => r.windowEnd + CLOSE_AFTER_MS >= from && r.windowEnd + CLOSE_AFTER_MS < to);
    const latencies = measured.map((r) => r.at - (r.windowEnd + CLOSE_AFTER_MS)).sort((a, b) => a - b);
    // Per minute of window ends: one burst when aligned; with --stagger, the minute's 60 small ones together.
    const bursts = new Map<number, number[]>();
    for (const r of measured) {
      const minute = Math.floor(r.windowEnd / MINUTE) * MINUTE;
      (bursts.get(minute) ?? bursts.set(minute, []).get(minute)!).push(r.at - (r.windowEnd + CLOSE_AFTER_MS));
    }
    const lines = [
      '',
      `Window-close latency (WebSocket receipt - (windowEnd + ${CLOSE_AFTER_MS} ms)), ms: ${opts.rate} payments/s (${sent} produced, ${Math.round(sent / ((Date.now() - producingSince) / 1000))}/s achieved), ${opts.cards} cards, ${opts.stagger === undefined ? 'windows aligned to the minute' : `windows staggered in steps of ${opts.stagger}`}, ${opts.seconds} s measured; engine from ${opts.engineDir}.`,
      '',
      '| predictions | p50 | p99 | p99.9 | max |',
      '|---|---|---|---|---|',
      `| ${latencies.length} | ${percentile(latencies, 50)} | ${percentile(latencies, 99)} | ${percentile(latencies, 99.9)} | ${latencies.at(-1) ?? NaN} |`,
      '',
      `Per ${opts.stagger === undefined ? 'burst' : 'minute of window ends'}: predictions, first and last receipt after the window could close (ms)`,
      ...[...bursts].map(([end, l]) => {
        const transport = probe?.delayAfter(end + CLOSE_AFTER_MS);
        return `- ${new Date(end).toISOString().slice(11, 16)}: ${l.length}, ${Math.min(...l)} .. ${Math.max(...l)}${transport === undefined ? '' : `; Kafka alone delivered the closing records after ${transport} ms`}`;
      }),
      '',
      stageTable(stagesBefore, stagesAfter),
      '',
      // Payments in the measured span at the achieved rate: the CPU per payment covers bursts and all.
      processLine(processBefore, processAfter, opts.seconds / 60, (sent / ((Date.now() - producingSince) / 1000)) * opts.seconds),
      '',
      ...(contention === undefined ? [] : [`CPU time in the ${CONTENTION_SPAN_MS} ms after each close, ms (${os.cpus().length} CPUs give ${os.cpus().length * CONTENTION_SPAN_MS}; load generator at nice ${opts.producerNice}):`, '', ...contention.lines(), '']),
      `Machine: ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}.`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
  } finally {
    engine.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    await topic.close();
    if (!opts.keep) await dropTables(prefix);
  }
  process.exit();
}

/** The stage histograms and the process's CPU, GC and RSS, from one scrape of the engine's /metrics. */
async function scrape(port: number): Promise<[Map<string, Buckets>, ProcessSample]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [parseHistogram(text, 'tributary_stage_latency_seconds', (labels) => (labels.stage === 'sink' ? `sink ${labels.sink}` : labels.stage!)), parseProcessSample(text)];
}

function stageTable(before: Map<string, Buckets>, after: Map<string, Buckets>): string {
  if (after.size === 0) return 'Stages: the engine has no tributary_stage_latency_seconds.';
  const rows = [...after].map(([stage, buckets]) => {
    const q = histogramQuantiles(buckets, before.get(stage), [0.5, 0.99, 0.999]);
    return `| ${stage} | ${q.count} | ${q.values.map((v) => (v === null ? '-' : v.toFixed(1))).join(' | ')} |`;
  });
  return ['Stages, ms since the batch that closed the windows reached the engine (interpolated in buckets):', '', '| stage | rows | p50 | p99 | p99.9 |', '|---|---|---|---|---|', ...rows].join('\n');
}

async function dropTables(prefix: string): Promise<void> {
  const client = clickhouse();
  const tables = await queryRows<{ name: string; engine: string }>(client, `SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND startsWith(name, '${prefix}')`);
  for (const t of tables.sort((a, b) => Number(b.engine === 'MaterializedView') - Number(a.engine === 'MaterializedView'))) {
    await client.command({ query: `DROP TABLE IF EXISTS \`${t.name}\`` }).catch(() => {});
  }
  await client.close();
}
