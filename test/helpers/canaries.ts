import { createHmac, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { queryRows } from './services.ts';

/**
 * Canary values: one per tagged field of a payment (payment.avsc), unique to a test run, so
 * finding one anywhere the engine wrote to means a value left it in clear.
 */
export interface Canaries {
  /** Valid payments (they pass the payment contract): canary ids and amounts, a real country. */
  payments: Payment[];
  /**
   * Payments whose country is a canary too: a country must be two capital letters (the payment
   * contract), so these break it and go to the dead letters or the quarantine, never to a window.
   */
  contractBreakers: Payment[];
  /** Every canary as the text it would appear as (strings, and amounts in decimal). */
  texts: string[];
}

export function canaryPayments(count: number, start: number, spacingMs: number): Canaries {
  const run = randomBytes(4).toString('hex');
  const payment = (i: number, kind: string): Payment => ({
    paymentId: `cnry${kind}pay${run}x${i}`,
    cardId: `cnry${kind}card${run}x${i}`,
    merchantId: `cnry${kind}merch${run}x${i}`,
    // Distinctive amounts with cents: 58213.47, 59213.58, ...
    amount: Math.round((58_213.47 + i * 1_000.11 + (kind === 'q' ? 500 : 0)) * 100) / 100,
    currency: 'EUR',
    country: 'FR',
    ts: start + i * spacingMs,
  });
  const payments = Array.from({ length: count }, (_, i) => payment(i, 'v'));
  const contractBreakers = Array.from({ length: 3 }, (_, i): Payment => ({ ...payment(i, 'q'), country: `cnryco${run}x${i}` }));
  const texts = [...payments, ...contractBreakers].flatMap((p) => [p.paymentId, p.cardId, p.merchantId, p.amount.toFixed(2), ...(p.country === 'FR' ? [] : [p.country])]);
  return { payments, contractBreakers, texts };
}

/** The canaries that occur in `text` (also as JSON-escaped or base64 runs are decoded by the callers). */
export function canariesIn(text: string, canaries: readonly string[]): string[] {
  return canaries.filter((canary) => text.includes(canary));
}

/** Keyed hash as governance defines it, computed here with node:crypto: `h1_` + HMAC-SHA256[0..16] base64url. */
export function pseudonymOf(hmacKey: Buffer, value: string | number): string {
  return `h1_${createHmac('sha256', hmacKey).update(String(value)).digest().subarray(0, 16).toString('base64url')}`;
}

/** The HMAC key from a Redis key store without a master key (`raw.<base64>` under `<prefix>hmac.1`). */
export async function hmacKeyFrom(redisUrl: string, prefix: string): Promise<Buffer> {
  const redis = new Redis(redisUrl);
  try {
    const stored = await redis.get(`${prefix}hmac.1`);
    if (stored === null || !stored.startsWith('raw.')) throw new Error(`no raw HMAC key under ${prefix}hmac.1`);
    return Buffer.from(stored.slice(4), 'base64');
  } finally {
    redis.disconnect();
  }
}

/**
 * Every key and value in the Redis database (SCAN, then each key read by its type), as text
 * lines: what a canary search looks through. Other tests' keys are in there too; they hold no
 * canary of this run.
 */
export async function dumpRedis(redisUrl: string): Promise<{ keys: number; text: string }> {
  const redis = new Redis(redisUrl);
  const lines: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        let value: unknown;
        if (type === 'string') value = await redis.get(key);
        else if (type === 'hash') value = await redis.hgetall(key);
        else if (type === 'list') value = await redis.lrange(key, 0, -1);
        else if (type === 'set') value = await redis.smembers(key);
        else if (type === 'zset') value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
        else if (type === 'stream') value = await redis.xrange(key, '-', '+', 'COUNT', '100000');
        else value = `(${type})`;
        lines.push(`${key} ${JSON.stringify(value)}`);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return { keys: lines.length, text: lines.join('\n') };
}

/**
 * Every row of every table of a run (names containing `prefix`: the tables, rollups and the
 * inner tables of materialized views), read as the server's admin, as text; base64 columns are
 * decoded too, so bytes in clear inside them would be found.
 */
export async function dumpClickHouse(ch: ClickHouseClient, prefix: string): Promise<{ tables: string[]; rows: number; text: string }> {
  const tables = (await queryRows<{ name: string; engine: string }>(ch, `SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND position(name, '${prefix}') > 0 ORDER BY name`))
    .filter((t) => t.engine !== 'MaterializedView')
    .map((t) => t.name);
  const parts: string[] = [];
  let rows = 0;
  for (const table of tables) {
    const data = await queryRows<Record<string, unknown>>(ch, `SELECT * FROM \`${table}\``);
    rows += data.length;
    for (const row of data) {
      parts.push(JSON.stringify(row));
      for (const value of Object.values(row)) if (typeof value === 'string' && /^[A-Za-z0-9+/]{16,}={0,2}$/.test(value)) parts.push(Buffer.from(value, 'base64').toString('latin1'));
    }
  }
  return { tables, rows, text: parts.join('\n') };
}

/** A WebSocket client of the engine that keeps every frame as received (text), subscribed to `channel`. */
export async function rawSubscriber(port: number, channel: string, token: string): Promise<{ frames: string[]; data: () => Array<{ key?: string; data: Record<string, unknown> }>; close: () => void }> {
  const frames: string[] = [];
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.on('message', (data) => frames.push(String(data)));
  socket.send(JSON.stringify({ type: 'subscribe', channel }));
  return {
    frames,
    data: () => frames.map((f) => JSON.parse(f) as { type: string; key?: string; data: Record<string, unknown> }).filter((m) => m.type === 'data'),
    close: () => socket.close(),
  };
}

/**
 * Cut toward zero to 2 significant digits, checked as a property (written independently of the
 * engine's code): `stored` has at most 2 significant digits, is not above `value`, and is less
 * than one unit of its second digit below it.
 */
export function isTwoDigitCut(stored: number, value: number): boolean {
  if (value === 0) return stored === 0;
  const unit = 10 ** (Math.floor(Math.log10(Math.abs(value))) - 1);
  const eps = Math.abs(value) * 1e-9;
  return Math.abs(Number(stored.toPrecision(2)) - stored) <= eps && Math.abs(stored) <= Math.abs(value) + eps && Math.abs(value) - Math.abs(stored) < unit + eps;
}
