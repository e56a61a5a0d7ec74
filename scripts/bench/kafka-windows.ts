/**
 * The windows Kafka phase (`npm run bench -- --only kafka-windows`): one fresh 3-partition topic
 * of N Avro payments over 5,000 cards, read by a bare kafkajs and a bare @platformatic/kafka
 * consumer (count only, each in its own process) and drained by
 * the engine with a 1-minute tumbling count/sum/max/min/last per card into ClickHouse. Each drain
 * runs in its own process (windows-child.ts) so its peak RSS is its own: this checkout with the
 * heap flags bin/tributary.js gives it without a budget and with each --memory-mb budget, and,
 * with --compare <dir>, another checkout's engine (e.g. /work/main) with Node's
 * defaults, first and again last: before and after in one run, on the same topic. The no-budget
 * drain runs again on @platformatic/kafka (TRIBUTARY_KAFKA_CLIENT=platformatic).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../src/observability/logger.ts';
import { createAvroEncoder } from '../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import { connectClickHouse } from '../../src/clickhouse/connection.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { v8FlagsFor, v8FlagsForBudget } from '../../bin/memory-flags.js';
import { log, paymentStream, result, SCHEMAS_DIR, startPhase, type BenchOptions, type BenchResult } from './common.ts';
import { cleanUp, rawConsume, type Services } from './kafka.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

/** The windows' columns (written next to a copy of schemas/ for the children). */
const CARD_MINUTE_SCHEMA = {
  type: 'record',
  name: 'CardMinute',
  namespace: 'dev.tributary.bench',
  fields: [
    { name: 'cardId', type: 'string' },
    { name: 'windowStart', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'windowEnd', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'count', type: 'long' },
    ...['sum', 'max', 'min', 'last'].map((name) => ({ name, type: 'double' })),
  ],
};

export interface WindowsBenchOptions extends BenchOptions {
  keep: boolean;
  /** Another checkout whose engine drains the same topic (its src/ is imported), e.g. /work/main. */
  compare?: string;
  /** Folder for V8 CPU profiles of each engine drain (drain-<i>/, one per thread: the main one is the largest). */
  cpuProf?: string;
  /** TRIBUTARY_MEMORY_MB of each budgeted drain. */
  memoryMb: number[];
  /** Also drain with the windows staggered in steps of this (e.g. '1s'), under the first budget. */
  stagger?: string;
}

interface ChildReport {
  startupSeconds: number;
  processedSeconds: number;
  steadyEventsPerSecond: number;
  peakRssMb: number;
  peakHeapUsedMb: number;
  peakExternalMb: number;
  heapLimitMb: number;
  cpuSeconds: number;
}

export async function benchKafkaWindows(options: WindowsBenchOptions, services: Services, logger: Logger): Promise<BenchResult[]> {
  const n = options.events;
  const brokers = services.kafkaBrokers.split(',');
  const topic = `bench_windows_${randomBytes(5).toString('hex')}`;
  const prefix = `bench_${randomBytes(4).toString('hex')}_`;
  const schemas = mkdtempSync(path.join(tmpdir(), 'tributary-bench-schemas-'));
  for (const file of readdirSync(SCHEMAS_DIR)) copyFileSync(path.join(SCHEMAS_DIR, file), path.join(schemas, file));
  writeFileSync(path.join(schemas, 'card_minute.avsc'), JSON.stringify(CARD_MINUTE_SCHEMA));
  const results: BenchResult[] = [];
  const client = createKafkajsClient({ brokers, clientId: 'tributary-bench-windows', logger, security: services.kafkaSecurity });
  const admin = client.admin();
  await admin.connect();
  try {
    await admin.createTopic(topic, { partitions: 3 });
    log(`kafka-windows: producing ${n} payments to ${topic}`);
    const encoder = createAvroEncoder<Payment>({ wire: 'confluent', registry: LocalSchemaRegistry.fromDirectory(SCHEMAS_DIR), schema: 'payment.avsc' });
    const producer = client.producer();
    await producer.connect();
    const payments = paymentStream(options, n);
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i += 1_000) {
      sends.push(producer.send(topic, payments.slice(i, i + 1_000).map((p) => ({ key: p.cardId, value: encoder.encode(p) }))));
      if (sends.length >= 8) await sends.shift();
    }
    await Promise.all(sends);
    await producer.disconnect();
    payments.length = 0;

    // The bare kafkajs count is the reference (bareRate); with a plain cluster both libraries
    // count in their own processes, for their own CPU and peak RSS.
    let bareRate = 0;
    if (services.kafkaSecurity !== undefined) {
      const bare = await rawConsume(brokers, services.kafkaSecurity, topic, n);
      bareRate = (bare.details as { eventsPerSecondAfterFirstBatch: number }).eventsPerSecondAfterFirstBatch;
      results.push({ ...bare, label: 'windows: bare kafkajs consume (count only)', eventsPerSecond: bareRate });
    }
    for (const client of services.kafkaSecurity === undefined ? (['kafkajs', 'platformatic'] as const) : []) {
      const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: services.kafkaBrokers, BENCH_TOPIC: topic, BENCH_EVENTS: String(n), BENCH_CLIENT: client };
      delete env.NODE_OPTIONS;
      const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/bench/bare-child.ts')], { cwd: ROOT, env, maxBuffer: 64 * 2 ** 20, timeout: 600_000 });
      const { bare, cpuSeconds, peakRssMb } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { bare: BenchResult; cpuSeconds: number; peakRssMb: number };
      const rate = (bare.details as { eventsPerSecondAfterFirstBatch: number }).eventsPerSecondAfterFirstBatch;
      if (client === 'kafkajs') bareRate = rate;
      const note = `${bare.note}; ${(rate / bareRate).toFixed(2)}x bare kafkajs; ${Math.round(n / bare.seconds)}/s overall; CPU ${(((bare.cpuPerWallSecond * bare.seconds) / n) * 1e6).toFixed(1)} us/event while consuming (${((cpuSeconds / n) * 1e6).toFixed(1)} whole process); peak RSS ${Math.round(peakRssMb)} MiB`;
      results.push({ ...bare, label: `windows: bare ${client === 'kafkajs' ? 'kafkajs' : '@platformatic/kafka'} consume (count only, own process)`, eventsPerSecond: rate, note, details: { ...bare.details, cpuSeconds, peakRssMb } });
    }
    const drains: Array<{ label: string; root: string; flags: string[]; env: Record<string, string> }> = [];
    if (options.compare) drains.push({ label: `windows: engine of ${options.compare}, Node defaults`, root: path.resolve(options.compare), flags: [], env: {} });
    const launcherFlags = v8FlagsFor(undefined)!;
    drains.push({ label: `windows: engine, tributary run without a budget (${launcherFlags.join(' ')})`, root: ROOT, flags: launcherFlags, env: { MALLOC_ARENA_MAX: '2' } });
    // The same drain on @platformatic/kafka (TRIBUTARY_KAFKA_CLIENT=platformatic; plain clusters only).
    if (services.kafkaSecurity === undefined) drains.push({ label: `windows: engine on @platformatic/kafka, without a budget (${launcherFlags.join(' ')})`, root: ROOT, flags: launcherFlags, env: { MALLOC_ARENA_MAX: '2', TRIBUTARY_KAFKA_CLIENT: 'platformatic' } });
    for (const memoryMb of options.memoryMb) {
      // As bin/tributary.js starts the engine.
      const flags = v8FlagsForBudget(memoryMb);
      drains.push({ label: `windows: engine, TRIBUTARY_MEMORY_MB=${memoryMb} (${flags.join(' ')})`, root: ROOT, flags, env: { TRIBUTARY_MEMORY_MB: String(memoryMb), MALLOC_ARENA_MAX: '2' } });
    }
    // The first budgeted drain again, its windows staggered.
    const budgeted = drains.find((drain) => drain.env.TRIBUTARY_MEMORY_MB !== undefined);
    if (options.stagger !== undefined && budgeted !== undefined) {
      drains.push({ ...budgeted, label: `${budgeted.label}, windows staggered in steps of ${options.stagger}`, env: { ...budgeted.env, BENCH_STAGGER: options.stagger } });
    }
    // Again at the end: on a shared machine the order of the drains shows in their rates too.
    if (options.compare) drains.push({ ...drains[0]!, label: `${drains[0]!.label} (again, last)` });
    for (const [i, drain] of drains.entries()) {
      const table = `${prefix}card_minutes_${i}`;
      log(`kafka-windows: ${drain.label}`);
      const phase = startPhase();
      const env: NodeJS.ProcessEnv = { ...process.env, ...drain.env, BENCH_ROOT: drain.root, BENCH_TOPIC: topic, BENCH_TABLE: table, BENCH_EVENTS: String(n), KAFKA_BROKERS: services.kafkaBrokers, CLICKHOUSE_URL: services.clickhouseUrl, TRIBUTARY_SCHEMAS_DIR: schemas, TRIBUTARY_GROUP_ID: `bench-windows-${randomBytes(5).toString('hex')}`, TRIBUTARY_AUDIT_TABLE: 'off', TRIBUTARY_AUDIT_LOG: path.join(schemas, `audit-${i}.jsonl`), PORT: '0', LOG_LEVEL: 'warn' };
      delete env.REDIS_URL;
      delete env.NODE_OPTIONS;
      const profile = options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(options.cpuProf, `drain-${i}`)}`] : [];
      const { stdout } = await run(process.execPath, [...drain.flags, ...profile, '--import', 'tsx', path.join(ROOT, 'scripts/bench/windows-child.ts')], { cwd: drain.root, env, maxBuffer: 64 * 2 ** 20, timeout: 600_000 });
      const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildReport;
      const measure = phase();
      const rows = await windowRows(services.clickhouseUrl, table, logger);
      results.push(
        result(drain.label, n, { ...measure, seconds: report.processedSeconds - report.startupSeconds, cpuPerWallSecond: report.cpuSeconds / report.processedSeconds }, {
          eventsPerSecond: report.steadyEventsPerSecond,
          note: `steady ${Math.round(report.steadyEventsPerSecond)}/s = ${(report.steadyEventsPerSecond / bareRate).toFixed(2)}x bare; CPU ${((report.cpuSeconds / n) * 1e6).toFixed(1)} us/event; peak RSS ${Math.round(report.peakRssMb)} MiB, heap used ${Math.round(report.peakHeapUsedMb)} MiB (limit ${Math.round(report.heapLimitMb)}), external ${Math.round(report.peakExternalMb)} MiB; ${rows.windows} windows closed (${rows.events} events)`,
          details: { ...report, ratioToBare: report.steadyEventsPerSecond / bareRate, rows },
        }),
      );
    }
  } finally {
    await admin.disconnect().catch(() => {});
    rmSync(schemas, { recursive: true, force: true });
    if (!options.keep) await cleanUp(services, brokers, topic, prefix, logger);
    if (!options.keep) await dropTables(services.clickhouseUrl, prefix, logger);
  }
  return results;
}

async function windowRows(url: string, table: string, logger: Logger): Promise<{ windows: number; events: number }> {
  const client = await connectClickHouse({ url, logger });
  try {
    const rows = await (await client.query({ query: `SELECT count() AS windows, sum(count) AS events FROM ${table}`, format: 'JSONEachRow' })).json<{ windows: string; events: string }>();
    return { windows: Number(rows[0]?.windows ?? 0), events: Number(rows[0]?.events ?? 0) };
  } finally {
    await client.close();
  }
}

async function dropTables(url: string, prefix: string, logger: Logger): Promise<void> {
  const client = await connectClickHouse({ url, logger });
  try {
    for (let i = 0; i < 8; i++) await client.command({ query: `DROP TABLE IF EXISTS ${prefix}card_minutes_${i}` });
  } finally {
    await client.close();
  }
}
