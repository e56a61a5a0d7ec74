/**
 * Insert throughput of the ClickHouse table sink: 100k payment records through
 * clickhouseTable(...) (row building, JSON encoding, INSERT), into the server at CLICKHOUSE_URL
 * (skipped when unset) and into embedded chDB in a temporary directory. First, without any
 * server, the cost per row of building and encoding rows in each insert format (the sink's
 * own work on the main thread), through a client that only JSON-encodes as the real one does.
 *
 *   CLICKHOUSE_URL=http://127.0.0.1:8123 npx tsx scripts/bench-clickhouse.ts [rows] [maxRows]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient, InsertParams } from '@clickhouse/client';
import { untrackedToken } from '../src/core/ack.ts';
import type { StreamRecord } from '../src/core/batch.ts';
import { Metrics } from '../src/observability/metrics.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { connectClickHouse } from '../src/clickhouse/connection.ts';
import { clickhouseTable } from '../src/sinks/clickhouse/table-sink.ts';

const ROWS = Number(process.argv[2] ?? 100_000);
const MAX_ROWS = Number(process.argv[3] ?? 10_000);
const WRITE_SIZE = 500; // records per write(), like one decoded Kafka batch
const RUNS = 3;

const records: StreamRecord<Record<string, unknown>>[] = Array.from({ length: ROWS }, (_, i) => ({
  value: {
    paymentId: `p-${i}`,
    cardId: `card-${i % 5000}`,
    merchantId: `m-${i % 700}`,
    amount: ((i * 7919) % 100_000) / 100,
    currency: 'EUR',
    country: ['DE', 'FR', 'GB', 'US'][i % 4],
    ts: 1_700_000_000_000 + i * 37,
  },
  key: '',
  eventTime: 0,
  topic: 'payments',
  partition: i % 6,
  offset: String(i),
}));

async function runOnce(client: ClickHouseClient, table: string, check = true): Promise<number> {
  const sink = clickhouseTable(table, { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', provenance: true, maxRows: MAX_ROWS }).create({
    topology: 'bench',
    logger: silentLogger,
    metrics: new Metrics(),
    clickhouse: async () => client,
    state: () => Promise.reject(new Error('unused')),
    push: () => undefined,
    kafkaProducer: () => Promise.reject(new Error("no Kafka in this benchmark")),
    schemasDir: fileURLToPath(new URL('../schemas', import.meta.url)),
    fail: (error) => {
      throw error;
    },
  });
  await sink.open();
  const token = [untrackedToken()];
  const started = performance.now();
  for (let i = 0; i < ROWS; i += WRITE_SIZE) {
    sink.write(records.slice(i, i + WRITE_SIZE), token);
    if (sink.isFull()) await sink.whenReady();
  }
  await sink.close();
  const seconds = (performance.now() - started) / 1000;
  if (!check) return ROWS / seconds;
  const [row] = await (await client.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })).json<{ n: string | number }>();
  if (Number(row!.n) !== ROWS) throw new Error(`${table}: expected ${ROWS} rows, found ${row!.n}`);
  return ROWS / seconds;
}

async function bench(label: string, client: ClickHouseClient): Promise<void> {
  const rates: number[] = [];
  for (let run = 0; run <= RUNS; run++) {
    const table = `bench_payments_${randomBytes(4).toString('hex')}`;
    try {
      const rate = await runOnce(client, table);
      if (run > 0) rates.push(rate); // run 0 warms up JIT and connections
    } finally {
      await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
    }
  }
  rates.sort((a, b) => a - b);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`${label}: ${ROWS.toLocaleString('en-US')} rows, inserts of up to ${MAX_ROWS.toLocaleString('en-US')}: median ${fmt(rates[Math.floor(rates.length / 2)]!)} rows/s (runs: ${rates.map(fmt).join(', ')})`);
}

/** A client whose dialect queries answer as 18.16 or a current server and whose inserts only encode. */
const formats = new Set<string>(); // as sent, for the label

function encodingClient(compact: boolean): ClickHouseClient {
  const answer = (query: string): unknown[] => {
    if (query.includes('version()')) return [{ version: compact ? '26.7' : '18.16.1' }];
    if (query.includes('system.tables')) return [{ name: 'formats' }];
    if (query.includes('system.formats')) return compact ? [{ name: 'JSONCompactEachRow' }] : [];
    return [];
  };
  let bytes = 0;
  return {
    query: async ({ query }: { query: string }) => ({ json: async () => answer(query) }),
    command: async () => ({}),
    // As @clickhouse/client encodes an array of rows: one JSON.stringify per row, joined.
    insert: async ({ values, format }: InsertParams) => {
      formats.add(String(format));
      bytes += (values as unknown[]).map((v) => JSON.stringify(v) + '\n').join('').length;
    },
    close: async () => void bytes,
  } as unknown as ClickHouseClient;
}

async function benchEncoding(): Promise<void> {
  for (const compact of [false, true]) {
    const client = encodingClient(compact);
    formats.clear();
    const times: number[] = [];
    for (let run = 0; run <= 5; run++) {
      const started = performance.now();
      await runOnce(client, 'bench_encode', false);
      if (run > 0) times.push(((performance.now() - started) * 1000) / ROWS);
    }
    times.sort((a, b) => a - b);
    const label = `${compact ? 'current server' : '18.16'} dialect, FORMAT ${[...formats].join(', ')}`;
    console.log(`encode only, ${label}: median ${times[Math.floor(times.length / 2)]!.toFixed(2)} µs/row (runs: ${times.map((t) => t.toFixed(2)).join(', ')})`);
  }
}

await benchEncoding();
const url = process.env.CLICKHOUSE_URL;
if (url) {
  const client = await connectClickHouse({ url, logger: silentLogger });
  await bench(`ClickHouse ${url}`, client);
  await client.close();
} else {
  console.log('CLICKHOUSE_URL unset: server benchmark skipped');
}
const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-chdb-'));
try {
  const client = await connectClickHouse({ dataDir: dir, logger: silentLogger });
  await bench('chDB (embedded)', client);
  await client.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
