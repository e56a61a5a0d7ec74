/**
 * Soak: the example card-fraud topology under `tributary run` (bin/tributary.js, so with the
 * memory budget's heap limits) on the real Kafka, ClickHouse and Redis, fed N payments/s at
 * wall-clock event time for D minutes. Every 10 s: the engine's RSS, heap, open windows and
 * consumer lag. Writes bench-results/soak-<ts>.json and .svg and prints the RSS slope after the
 * first 5 minutes (MiB/min).
 *
 *   npm run soak -- --rate 20000 --minutes 30 [--memory-mb 512] [--heap-snapshots 5,15] [--producer-client platformatic|kafkajs]
 *
 * The payments are produced from this process through the Kafka port, with @platformatic/kafka
 * by default (about 17 us of CPU a payment here, against 27 us with kafkajs): the generator
 * stands in for producers on other machines, so it should take as little of the engine's
 * machine as it can (see bench:latency).
 *
 * `--heap-snapshots` writes V8 heap snapshots of the engine at those minutes into bench-results/
 * (compare two with scripts/bench/heap-diff.ts to see what the live heap gained in between).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { connectClickHouse } from '../src/clickhouse/connection.ts';
import { createKafkaClient, KAFKA_CLIENT_KINDS, type KafkaClientKind } from '../src/kafka/create-kafka-client.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { createAvroEncoder } from '../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../src/serde/schema-registry.ts';
import { CardPaymentModel, type Payment } from '../src/sources/generator/card-payments.ts';
import { renderPng, slopePerMinute, soakSvg, type SoakSample } from './soak/chart.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const whole = (text: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return value;
};
const opts = new Command()
  .option('--rate <n>', 'payments per second', whole, 20_000)
  .option('--minutes <n>', 'duration', whole, 30)
  .option('--memory-mb <n>', 'TRIBUTARY_MEMORY_MB of the engine', whole, 512)
  .option('--keep', 'keep the topic and tables for inspection')
  .option('--node-options <flags>', "extra Node/V8 flags for the engine's process (not heap-size flags: the budget sets those)", '')
  .option('--producer-client <client>', `the load generator's Kafka client: ${KAFKA_CLIENT_KINDS.join(' or ')}`, (text) => {
    if (!(KAFKA_CLIENT_KINDS as readonly string[]).includes(text)) throw new InvalidArgumentError(`expected one of ${KAFKA_CLIENT_KINDS.join(', ')}`);
    return text as KafkaClientKind;
  }, 'platformatic' as KafkaClientKind)
  .option('--heap-snapshots <minutes>', 'comma-separated minutes at which to write heap snapshots of the engine', (text) => text.split(',').map(Number), [] as number[])
  .parse(process.argv)
  .opts<{ rate: number; minutes: number; memoryMb: number; keep?: boolean; nodeOptions: string; heapSnapshots: number[]; producerClient: KafkaClientKind }>();
const { KAFKA_BROKERS, CLICKHOUSE_URL, REDIS_URL } = process.env;
if (!KAFKA_BROKERS || !CLICKHOUSE_URL || !REDIS_URL) throw new InvalidArgumentError('set KAFKA_BROKERS, CLICKHOUSE_URL and REDIS_URL (eval "$(bash scripts/services.sh env)")');
const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);

const id = randomBytes(4).toString('hex');
const topic = `soak_payments_${id}`;
const kafka = createKafkaClient({ kind: opts.producerClient, brokers: KAFKA_BROKERS.split(','), clientId: 'tributary-soak', logger: silentLogger });
const admin = kafka.admin();
await admin.connect();
await admin.createTopic(topic, { partitions: 3 });
const producer = kafka.producer();
await producer.connect();

const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', FRAUD_TEST_TOPIC: topic, FRAUD_TEST_PREFIX: `soak_${id}_`, FRAUD_TEST_STATE_PREFIX: `soak:${id}:`, TRIBUTARY_GROUP_ID: `soak-${id}`, TRIBUTARY_MEMORY_MB: String(opts.memoryMb), TRIBUTARY_AUDIT_TABLE: 'off', TRIBUTARY_AUDIT_LOG: path.join(tmpdir(), `soak-${id}-audit.jsonl`), LOG_LEVEL: 'warn' };
delete env.NODE_OPTIONS;
// On the launcher's command line (V8 flags are not allowed in NODE_OPTIONS); it passes them on to the engine.
const nodeOptions = [opts.nodeOptions, opts.heapSnapshots.length > 0 ? '--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=bench-results' : ''].join(' ').trim();
const engine = spawn(process.execPath, [...nodeOptions.split(/\s+/).filter(Boolean), 'bin/tributary.js', 'run', 'test/fixtures/card-fraud-from-env.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
engine.stdout.on('data', (chunk) => (output += chunk));
engine.stderr.on('data', (chunk) => process.stderr.write(chunk));
while (!/Metrics:\s+http:\/\/([^/\s]+)\/metrics/.test(output)) {
  if (engine.exitCode !== null) throw new Error(`the engine exited:\n${output}`);
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const metricsUrl = `http://${/Metrics:\s+http:\/\/([^/\s]+)\/metrics/.exec(output)![1]}/metrics`;
const enginePid = Number(readFileSync(`/proc/${engine.pid}/task/${engine.pid}/children`, 'utf8').trim().split(/\s+/)[0] ?? engine.pid);
log(`engine ${enginePid} running on ${topic}; ${opts.rate} payments/s for ${opts.minutes} min; metrics ${metricsUrl}`);

const encoder = createAvroEncoder<Payment>({ wire: 'confluent', registry: LocalSchemaRegistry.fromDirectory(path.join(ROOT, 'schemas')), schema: 'payment.avsc' });
const model = new CardPaymentModel({ seed: 11, cards: 10_000 });
const t0 = Date.now();
const end = t0 + opts.minutes * 60_000;
let produced = 0;
/** Produces what the rate owes up to now, every 100 ms, in sends of 2,000. */
const produce = async () => {
  while (Date.now() < end) {
    const owed = Math.floor(((Date.now() - t0) / 1000) * opts.rate) - produced;
    for (let sent = 0; sent < owed; sent += 2_000) {
      const n = Math.min(2_000, owed - sent);
      const messages = Array.from({ length: n }, () => {
        const payment = model.next(Date.now()).payment;
        return { key: payment.cardId, value: encoder.encode(payment) };
      });
      await producer.send(topic, messages);
    }
    produced += Math.max(0, owed);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};
const metric = (text: string, name: string) => text.split('\n').filter((line) => line.startsWith(name)).reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
const samples: SoakSample[] = [];
const sample = async () => {
  const text = await (await fetch(metricsUrl)).text();
  const rssMb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${enginePid}/status`, 'utf8'))![1]) / 1024;
  samples.push({ minutes: (Date.now() - t0) / 60_000, rssMb, heapUsedMb: metric(text, 'nodejs_heap_size_used_bytes') / 2 ** 20, heapTotalMb: metric(text, 'nodejs_heap_size_total_bytes') / 2 ** 20, externalMb: metric(text, 'nodejs_external_memory_bytes') / 2 ** 20, openWindows: metric(text, 'tributary_open_windows{'), lagRecords: metric(text, 'tributary_consumer_lag_records{'), produced });
  const last = samples.at(-1)!;
  log(`${last.minutes.toFixed(1)} min: RSS ${last.rssMb.toFixed(0)} MiB, heap ${last.heapUsedMb.toFixed(0)} of ${last.heapTotalMb!.toFixed(0)} MiB, external ${last.externalMb!.toFixed(0)} MiB, ${last.openWindows} open windows, lag ${last.lagRecords}, produced ${produced}`);
};
const sampler = setInterval(() => void sample().catch((error) => log(`sample failed: ${String(error)}`)), 10_000);
const snapshotTimers = opts.heapSnapshots.map((minute) =>
  setTimeout(() => {
    log(`heap snapshot at ${minute} min (written by the engine into bench-results/)`);
    process.kill(enginePid, 'SIGUSR2');
  }, minute * 60_000),
);
try {
  await produce();
  await sample();
} finally {
  clearInterval(sampler);
  for (const timer of snapshotTimers) clearTimeout(timer);
  engine.kill('SIGTERM');
  await new Promise((resolve) => engine.once('exit', resolve));
  await producer.disconnect();
  if (!opts.keep) await dropSoakData();
  await admin.disconnect();
}

/** The soak's topic, tables (views first) and Redis keys, so repeated soaks do not fill the shared services. */
async function dropSoakData(): Promise<void> {
  const kafkajsAdmin = new Kafka({ clientId: 'tributary-soak-cleanup', brokers: KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING }).admin();
  await kafkajsAdmin.connect().then(() => kafkajsAdmin.deleteTopics({ topics: [topic] })).catch((error: unknown) => log(`could not delete topic ${topic}: ${String(error)}`));
  await kafkajsAdmin.disconnect().catch(() => {});
  const clickhouse = await connectClickHouse({ url: CLICKHOUSE_URL!, logger: silentLogger });
  try {
    const query = `SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, 'soak_${id}_') ORDER BY endsWith(name, '_mv') DESC, engine LIKE '%MergeTree' AND name LIKE '%_per_%' DESC`;
    for (const { name } of await (await clickhouse.query({ query, format: 'JSONEachRow' })).json<{ name: string }>()) await clickhouse.command({ query: `DROP TABLE IF EXISTS ${name}` });
  } finally {
    await clickhouse.close();
  }
  // The online state the example topology wrote under FRAUD_TEST_STATE_PREFIX.
  const redis = new Redis(REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `tributary:*:soak:${id}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
const steady = samples.filter((s) => s.minutes >= 5);
const summary = { rate: opts.rate, minutes: opts.minutes, memoryMb: opts.memoryMb, nodeOptions, producerClient: opts.producerClient, topic, samples: samples.length, rssSlopeMbPerMinuteAfter5: slopePerMinute(steady, (s) => s.rssMb), heapTotalSlopeMbPerMinuteAfter5: slopePerMinute(steady, (s) => s.heapTotalMb ?? NaN), externalSlopeMbPerMinuteAfter5: slopePerMinute(steady, (s) => s.externalMb ?? NaN), openWindowsSlopePerMinuteAfter5: slopePerMinute(steady, (s) => s.openWindows), peakRssMb: Math.max(...samples.map((s) => s.rssMb)), maxOpenWindows: Math.max(...samples.map((s) => s.openWindows)), produced };
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
const base = path.join(ROOT, 'bench-results', `soak-${stamp}`);
writeFileSync(`${base}.json`, JSON.stringify({ summary, samples }, null, 2));
const svg = soakSvg(samples, `soak: ${opts.rate}/s for ${opts.minutes} min, TRIBUTARY_MEMORY_MB=${opts.memoryMb}; RSS slope after 5 min ${summary.rssSlopeMbPerMinuteAfter5.toFixed(2)} MiB/min`);
writeFileSync(`${base}.svg`, svg);
const png = await renderPng(svg, `${base}.png`).then(
  () => ' and .png',
  (error: unknown) => (log(`no PNG (${String(error)}); the SVG has the chart`), ''),
);
console.log(JSON.stringify(summary));
console.log(`written ${base}.json, .svg${png}${opts.keep ? ` (topic ${topic} and tables soak_${id}_* kept)` : ''}`);
process.exit(0);
