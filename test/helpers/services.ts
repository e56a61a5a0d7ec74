import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { EngineConfig } from '../../src/topology/config.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SCHEMAS_DIR = path.join(REPO_ROOT, 'schemas');

/**
 * The address of a real service started by scripts/services.sh. Integration tests fail (never
 * skip) without it: run them through `npm test`.
 */
export function requireService(variable: 'KAFKA_BROKERS' | 'CLICKHOUSE_URL' | 'REDIS_URL'): string {
  const value = process.env[variable];
  if (!value) throw new Error(`${variable} is not set: integration tests need the real services; run them with \`npm test\` (scripts/test.sh starts Kafka, ClickHouse and Redis)`);
  return value;
}

/** A random lowercase name, so test files can run in parallel against one broker and server. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/**
 * Where engines started by tests keep their audit trail: one file for all of them (appends are
 * locked), no ClickHouse copy (the audit tests check that on tables of their own).
 */
export const TEST_AUDIT = { file: path.join(REPO_ROOT, 'data', 'test-audit', 'audit.jsonl'), table: null };

export function engineConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  return {
    kafkaBrokers: requireService('KAFKA_BROKERS').split(','),
    clickhouseUrl: requireService('CLICKHOUSE_URL'),
    clickhouseDataDir: path.join(REPO_ROOT, 'data', 'unused'),
    redisUrl: requireService('REDIS_URL'),
    port: 0,
    host: '127.0.0.1',
    groupId: uniqueName('group'),
    maxInFlightRecords: 20_000,
    commitIntervalMs: 300,
    schemasDir: SCHEMAS_DIR,
    windowState: 'memory',
    checkpointIntervalMs: 500,
    maxOpenWindows: 5_000_000,
    shutdownTimeoutMs: 30_000,
    audit: TEST_AUDIT,
    // TRIBUTARY_KAFKA_CLIENT=platformatic runs the Kafka tests on @platformatic/kafka.
    ...(process.env.TRIBUTARY_KAFKA_CLIENT === 'platformatic' ? { kafkaClient: 'platformatic' as const } : {}),
    ...overrides,
  };
}

export function clickhouse(): ClickHouseClient {
  return createClient({ url: requireService('CLICKHOUSE_URL') });
}

export async function queryRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

/**
 * Polls `probe` until it returns a value for which `done` holds, or fails with the last value.
 * A probe that throws (a ClickHouse query whose connection was dropped on a loaded machine) is
 * polled again; if it still throws at the deadline, that error is reported.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: await probe() };
    } catch (error) {
      outcome = { error };
    }
    if ('value' in outcome && done(outcome.value)) return outcome.value;
    if (Date.now() > deadline) {
      if ('error' in outcome) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the last probe failed: ${String(outcome.error)}`);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(outcome.value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
