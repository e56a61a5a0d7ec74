import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { FileBudgetLedger } from '../../src/analytics/dp/file-ledger.ts';
import { RedisBudgetLedger } from '../../src/analytics/dp/redis-ledger.ts';

/**
 * The privacy budget ledgers under contention, on the real Redis and a real file: 1,000
 * concurrent spends of ε 0.01 against a budget of exactly N = 137 of them accept exactly 137,
 * whether they come from one process or from four; a new process (an engine restarted) sees the
 * spent budget and is refused.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const COST = 10_000; // ε 0.01 in millionths
const N = 137;
const LIMIT = N * COST;
const CHILD = resolve(import.meta.dirname, '../helpers/dp-ledger-child.ts');
const run = promisify(execFile);

async function child(args: string[]): Promise<{ accepted: number; spent: number }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: resolve(import.meta.dirname, '../..') });
  return JSON.parse(stdout) as { accepted: number; spent: number };
}

describe('Redis ledger', () => {
  const prefix = `tributary:test:dp:${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(REDIS_URL);
  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  test('1,000 concurrent spends in one process accept exactly N; a new process sees the spent budget', async () => {
    const ledger = new RedisBudgetLedger(new Redis(REDIS_URL), prefix);
    const results = await Promise.all(Array.from({ length: 1_000 }, () => ledger.spend('analyst:alice', COST, LIMIT)));
    assert.equal(results.filter((r) => r.accepted).length, N);
    assert.equal(await redis.get(`${prefix}analyst%3Aalice`), String(LIMIT));
    await ledger.close();
    const restarted = await child(['redis', REDIS_URL, prefix, 'analyst:alice', '1', String(COST), String(LIMIT)]);
    assert.deepEqual(restarted, { accepted: 0, spent: LIMIT });
  });

  test('1,000 spends from four processes accept exactly N', async () => {
    const outcomes = await Promise.all([0, 1, 2, 3].map(() => child(['redis', REDIS_URL, prefix, 'bob', '250', String(COST), String(LIMIT)])));
    assert.equal(outcomes.reduce((sum, o) => sum + o.accepted, 0), N);
    assert.equal(await redis.get(`${prefix}bob`), String(LIMIT));
  });
});

describe('file ledger', () => {
  let dir = '';
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('1,000 concurrent spends in one process accept exactly N; a new process sees the spent budget', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-dp-ledger-'));
    const path = join(dir, 'ledger.json');
    const ledger = new FileBudgetLedger(path);
    const results = await Promise.all(Array.from({ length: 1_000 }, () => ledger.spend('carol', COST, LIMIT)));
    assert.equal(results.filter((r) => r.accepted).length, N);
    await ledger.close();
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { carol: LIMIT });
    const restarted = await child(['file', path, 'carol', '1', String(COST), String(LIMIT)]);
    assert.deepEqual(restarted, { accepted: 0, spent: LIMIT });
  });

  test('1,000 spends from four processes on one file accept exactly N', async () => {
    const path = join(dir, 'shared.json');
    const outcomes = await Promise.all([0, 1, 2, 3].map(() => child(['file', path, 'dave', '250', String(COST), String(LIMIT)])));
    assert.equal(outcomes.reduce((sum, o) => sum + o.accepted, 0), N);
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { dave: LIMIT });
  });
});
