/**
 * The cost on the event loop of writing a burst of hot-state keys to Redis: one pipelined SET per
 * key (what RedisKeyValueStore did before) against src/state/redis-set-many.ts (script calls of up
 * to 500 keys).
 *
 *   node --import tsx scripts/bench-redis-writes.ts [--keys 10000] [--rounds 10]
 *
 * Needs REDIS_URL (default redis://127.0.0.1:6379). Reports main-thread CPU (user+system) and
 * wall time per round of --keys writes, median over --rounds, after two warm-up rounds.
 */
import { Redis } from 'ioredis';
import { setMany } from '../src/state/redis-set-many.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : fallback; };
const keys = opt('keys', 10_000);
const rounds = opt('rounds', 10);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `bench-redis-writes:${process.pid}:`;

function values(round: number): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < keys; i++) out.push([`${prefix}card-${i}`, JSON.stringify({ cardId: `card-${i}`, windowEnd: 1_700_000_000_000 + round, count1m: i % 7, sum1m: i * 1.5, max1m: 99.5, probability: 0.01 * (i % 100), model: 'fraud-lr@3', source: 'model' })]);
  return out;
}

async function pipelined(entries: Array<[string, string]>): Promise<void> {
  const pipeline = redis.pipeline();
  for (const [key, value] of entries) pipeline.set(key, value, 'PX', 3_600_000);
  await pipeline.exec();
}

async function scripted(entries: Array<[string, string]>): Promise<void> {
  await setMany(redis, entries.map(([key]) => key), entries.map(([, value]) => value), 3_600_000);
}

async function measure(label: string, write: (entries: Array<[string, string]>) => Promise<void>): Promise<void> {
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let round = 0; round < rounds + 2; round++) {
    const entries = values(round);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await write(entries);
    const t1 = performance.now();
    const c = process.cpuUsage(c0);
    if (round >= 2) { cpu.push((c.user + c.system) / 1000); wall.push(t1 - t0); }
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`${label.padEnd(28)} cpu ${median(cpu).toFixed(1)} ms  wall ${median(wall).toFixed(1)} ms  per ${keys} keys`);
}

await measure('pipeline of SET PX', pipelined);
await measure('setMany (script calls)', scripted);
const check = await redis.get(`${prefix}card-1`);
if (!check?.includes('card-1') || (await redis.pttl(`${prefix}card-1`)) <= 0) throw new Error('the script did not write with a TTL');
let cursor = '0';
do { const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000); cursor = next; if (found.length > 0) await redis.del(...found); } while (cursor !== '0');
await redis.quit();
