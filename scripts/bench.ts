/**
 * End-to-end throughput of the card-fraud topology, in one run:
 *   1. embedded: pipeline only (windows + ONNX, counting sinks) and the full embedded default
 *      (chDB in a temp dir, memory state, push off), bounded generator, Engine.start → done;
 *   2. Kafka: preload a fresh 3-partition topic, drain it with the full topology (ClickHouse
 *      server, Redis), plus a bare kafkajs count-only consumer and Avro decode on the same data.
 *
 *   3. Kafka windows: a 1-minute tumbling count/sum/max/min/last per card into ClickHouse, each
 *      drain in its own process (steady rate, ratio to the bare kafkajs rate, peak RSS);
 *      --compare /work/main adds that checkout's engine on the same topic.
 *
 *   4. tracing (only when asked: --only tracing): the Kafka drain with tracing off and on.
 *
 *   npm run bench -- [--events 300000] [--skip-kafka] [--repeat 3] [--event-rate 200]
 *   npm run bench -- --only kafka-windows --events 300000 --compare /work/main [--memory-mb 512]
 *   npm run bench -- --only tracing --events 200000 --repeat 2 [--trace-ratio 0.01]
 *   node --import tsx --cpu-prof --cpu-prof-dir=bench-results scripts/bench.ts --only pipeline
 *
 * Without KAFKA_BROKERS the local services are started (scripts/services.sh) and left running.
 * Results: a table on stdout, JSON in bench-results/bench-<timestamp>.json.
 */
import { execFileSync } from 'node:child_process';
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../src/observability/logger.ts';
import { log, type BenchOptions, type BenchResult } from './bench/common.ts';
import { benchEmbeddedDefault, benchPipelineOnly } from './bench/embedded.ts';
import { loadConnectionSecurity } from '../src/topology/connection-config.ts';
import { benchKafka, type Services } from './bench/kafka.ts';
import { benchTracing } from './bench/tracing.ts';
import { benchKafkaSink } from './bench/kafka-sink.ts';
import { benchKafkaWindows } from './bench/kafka-windows.ts';
import { printTable, writeJson } from './bench/report.ts';

// The project's producer uses kafkajs' default partitioner; its v2 migration notice is noise here.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

const PHASES = ['pipeline', 'embedded', 'kafka', 'kafka-windows', 'tracing', 'kafka-sink'] as const;
/** Phases run when --only is not given (tracing doubles the Kafka drains: only on request). */
const DEFAULT_PHASES: readonly Phase[] = ['pipeline', 'embedded', 'kafka', 'kafka-windows'];
type Phase = (typeof PHASES)[number];

function positiveInt(text: string): number {
  const value = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError('expected a whole number');
  return value;
}

const program = new Command()
  .name('bench')
  .description('events/s of the card-fraud topology: embedded (generator) and on Kafka')
  .option('--events <n>', 'events per measured run', positiveInt, 300_000)
  .option('--warmup <n>', 'events in the warm-up run before each embedded phase (0: none)', positiveInt)
  .option('--repeat <n>', 'measured runs per embedded phase (the median is reported)', positiveInt, 1)
  .option('--event-rate <n>', 'events per second of event time (the demo default is 200)', positiveInt, 200)
  .option('--seed <n>', 'generator seed', positiveInt, 7)
  .option('--skip-kafka', 'only the embedded phases (machines without services)')
  .option('--only <phases>', `comma-separated subset of ${PHASES.join(',')}`)
  .option('--compare <dir>', 'kafka-windows: also drain with the engine of another checkout (e.g. /work/main), same topic, same run')
  .option('--memory-mb <list>', 'kafka-windows: TRIBUTARY_MEMORY_MB of each budgeted drain, comma-separated', (text) => text.split(',').map(positiveInt), [512])
  .option('--stagger <duration>', "kafka-windows: also drain with each card's windows staggered in steps of this (e.g. 1s), under the first --memory-mb")
  .option('--cpu-prof <dir>', 'kafka-windows: write a V8 CPU profile of each engine drain into this folder')
  .option('--keep', 'keep the Kafka topic, ClickHouse tables and Redis keys for inspection')
  .option('--log-level <level>', 'engine log level', 'warn')
  .option('--trace-ratio <ratio>', 'tracing phase: OTEL_TRACES_SAMPLER_ARG of the traced drains', (text) => {
    const ratio = Number(text);
    if (!(ratio > 0 && ratio <= 1)) throw new InvalidArgumentError('expected a ratio in (0, 1]');
    return ratio;
  }, 0.01)
  .showHelpAfterError();

async function main(): Promise<void> {
  const opts = program.parse(process.argv).opts<{ events: number; warmup?: number; repeat: number; eventRate: number; seed: number; skipKafka?: boolean; only?: string; keep?: boolean; compare?: string; cpuProf?: string; stagger?: string; memoryMb: number[]; logLevel: string; traceRatio: number }>();
  if (opts.events < 1 || opts.repeat < 1 || opts.eventRate < 1) throw new InvalidArgumentError('--events, --repeat and --event-rate must be at least 1');
  const phases = new Set<Phase>((opts.only?.split(',').map((p) => p.trim()) ?? DEFAULT_PHASES) as Phase[]);
  for (const phase of phases) if (!PHASES.includes(phase)) throw new InvalidArgumentError(`unknown phase "${phase}" (use ${PHASES.join(',')})`);
  if (opts.skipKafka) {
    phases.delete('kafka');
    phases.delete('tracing');
    phases.delete('kafka-sink');
    phases.delete('kafka-windows');
  }
  const options: BenchOptions = { events: opts.events, eventRate: opts.eventRate, seed: opts.seed, warmupEvents: opts.warmup ?? Math.min(50_000, Math.ceil(opts.events / 5)), repeat: opts.repeat };
  const logger = createLogger('bench', opts.logLevel);
  log(`node ${process.version}; options ${JSON.stringify({ ...options, phases: [...phases] })}`);

  const results: BenchResult[] = [];
  const record = (r: BenchResult) => {
    results.push(r);
    log(`${r.label}: ${Math.round(r.eventsPerSecond).toLocaleString('en-US')} events/s (${r.seconds.toFixed(2)} s)`);
  };
  if (phases.has('pipeline')) record(await benchPipelineOnly(options, logger));
  if (phases.has('embedded')) record(await benchEmbeddedDefault(options, logger));
  if (phases.has('kafka')) for (const r of await benchKafka({ ...options, keep: opts.keep ?? false }, services(), logger)) record(r);
  if (phases.has('kafka-sink')) for (const r of await benchKafkaSink(options, services(), logger)) record(r);
  if (phases.has('kafka-windows')) for (const r of await benchKafkaWindows({ ...options, keep: opts.keep ?? false, compare: opts.compare, cpuProf: opts.cpuProf, memoryMb: opts.memoryMb, stagger: opts.stagger }, services(), logger)) record(r);
  if (phases.has('tracing')) for (const r of await benchTracing({ ...options, keep: opts.keep ?? false, traceRatio: opts.traceRatio }, services(), logger)) record(r);

  printTable(results);
  const file = await writeJson(results, { ...options, phases: [...phases], maxInFlight: process.env.TRIBUTARY_MAX_IN_FLIGHT ?? 'default' });
  console.log(`\nresults written to ${file}`);
}

/** The services' addresses; starts them with scripts/services.sh when KAFKA_BROKERS is unset. */
function services(): Services {
  let env = process.env;
  if (!env.KAFKA_BROKERS) {
    log('KAFKA_BROKERS is not set: starting local services (bash scripts/services.sh start)');
    execFileSync('bash', ['scripts/services.sh', 'start'], { stdio: ['ignore', process.stderr, 'inherit'] });
    const line = execFileSync('bash', ['scripts/services.sh', 'env'], { encoding: 'utf8' });
    env = { ...env, ...Object.fromEntries([...line.matchAll(/([A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])) };
    log('services left running; stop them with: npm run services:stop');
  }
  const { KAFKA_BROKERS, CLICKHOUSE_URL, REDIS_URL } = env;
  if (!KAFKA_BROKERS || !CLICKHOUSE_URL || !REDIS_URL) throw new Error('the Kafka phase needs KAFKA_BROKERS, CLICKHOUSE_URL and REDIS_URL (eval "$(bash scripts/services.sh env)"), or use --skip-kafka');
  // A secured cluster (KAFKA_SECURITY_PROTOCOL and friends) for the Kafka clients; ClickHouse and Redis stay plain here.
  const { kafkaSecurity } = loadConnectionSecurity(env, {});
  return { kafkaBrokers: KAFKA_BROKERS, clickhouseUrl: CLICKHOUSE_URL, redisUrl: REDIS_URL, kafkaSecurity };
}

main().then(
  // Sockets of closed clients can keep the loop alive for a while; the results are written.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
