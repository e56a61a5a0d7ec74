/**
 * The embedded demo's close-path latency as its first minute shows it: runs `npm start`'s engine
 * (topologies/card-fraud.ts, governance on, chDB and keys in a temporary directory), waits until
 * it has sent `--frames` WebSocket predictions (default: the first burst's), then prints the
 * p50/p99 of tributary_stage_latency_seconds per stage and of tributary_processing_latency_seconds
 * (the dashboard's processing figure), interpolated from the histogram buckets of /metrics.
 *   node --import tsx scripts/demo-stage-latency.ts [--engine-dir DIR] [--seconds 60]
 * `--engine-dir /work/main` runs another checkout's engine, for a before/after.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { 'engine-dir': { type: 'string', default: process.cwd() }, seconds: { type: 'string', default: '60' } } });
const engineDir = path.resolve(values['engine-dir']!);
const port = await new Promise<number>((resolve) => {
  const server = createServer().listen(0, () => {
    const { port } = server.address() as { port: number };
    server.close(() => resolve(port));
  });
});
const dataDir = mkdtempSync(path.join(tmpdir(), 'demo-stage-latency-'));
const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), CLICKHOUSE_DATA_DIR: dataDir, TRIBUTARY_KEY_STORE_DIR: path.join(dataDir, 'keys'), LOG_LEVEL: 'warn' };
for (const name of ['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'REDIS_URL']) delete env[name];
const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', 'topologies/card-fraud.ts'], { cwd: engineDir, env, stdio: 'ignore' });

await new Promise((resolve) => setTimeout(resolve, Number(values.seconds) * 1000));
const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
child.kill('SIGKILL');
rmSync(dataDir, { recursive: true, force: true });

/** Quantile of a cumulative histogram (le -> count), linear within the bucket, as Prometheus does. */
function quantile(buckets: Array<[number, number]>, q: number): number {
  const total = buckets[buckets.length - 1]![1];
  const rank = q * total;
  let previous: [number, number] = [0, 0];
  for (const bucket of buckets) {
    if (bucket[1] >= rank) {
      if (!Number.isFinite(bucket[0])) return previous[0];
      return previous[0] + ((bucket[0] - previous[0]) * (rank - previous[1])) / Math.max(1, bucket[1] - previous[1]);
    }
    previous = bucket;
  }
  return NaN;
}

const series = new Map<string, Array<[number, number]>>();
for (const match of text.matchAll(/^(tributary_(?:stage|processing)_latency_seconds)_bucket\{([^}]*)\} (\S+)$/gm)) {
  const labels = match[2]!.replace(/,?le="[^"]*"/, '');
  const le = /le="([^"]+)"/.exec(match[2]!)![1]!;
  const name = `${match[1]}{${labels}}`;
  if (!series.has(name)) series.set(name, []);
  series.get(name)!.push([le === '+Inf' ? Infinity : Number(le), Number(match[3])]);
}
console.log(`engine ${engineDir}, /metrics after ${values.seconds} s`);
for (const [name, buckets] of series) {
  const count = buckets[buckets.length - 1]![1];
  if (count === 0) continue;
  console.log(`${name.padEnd(90)} n=${String(count).padStart(6)}  p50 ${(quantile(buckets, 0.5) * 1000).toFixed(0).padStart(6)} ms  p99 ${(quantile(buckets, 0.99) * 1000).toFixed(0).padStart(6)} ms`);
}
