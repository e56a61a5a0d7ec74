import path from 'node:path';
import type { EngineConfig } from '../../src/topology/config.ts';

/** An engine configuration that needs no service (memory window state, no Kafka, ClickHouse or Redis), for unit tests. */
export function localEngineConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  return {
    clickhouseDataDir: path.resolve('data/unused'),
    port: 0,
    host: '127.0.0.1',
    maxInFlightRecords: 10_000,
    commitIntervalMs: 1_000,
    schemasDir: path.resolve('schemas'),
    windowState: 'memory',
    checkpointIntervalMs: 1_000,
    maxOpenWindows: 100_000,
    shutdownTimeoutMs: 30_000,
    audit: { file: path.resolve('data/test-audit/audit.jsonl'), table: null },
    ...overrides,
  };
}
