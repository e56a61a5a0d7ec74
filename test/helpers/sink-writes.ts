import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { StreamRecord } from '../../src/core/batch.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { SinkEnvironment, SinkSpec } from '../../src/sinks/sink.ts';

const schemasDir = fileURLToPath(new URL('../../schemas', import.meta.url));

/** A sink environment with only ClickHouse; a sink failure fails the write. */
export function clickhouseSinkEnvironment(client: ClickHouseClient, failures: unknown[] = [], origin?: string): SinkEnvironment {
  return {
    topology: 'test-lifecycle', origin, logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client,
    state: () => Promise.reject(new Error('no state store in this test')), push: () => undefined,
    kafkaProducer: () => Promise.reject(new Error('no Kafka in this test')), schemasDir, fail: (error) => void failures.push(error),
  };
}

/**
 * Writes `values` through a topology's sink (so the table is created and filled exactly as the
 * engine would), as derived records in chunks of 5,000, and closes the sink. `origin`: what the
 * engine's environment says wrote them ('online' when absent, 'backfill' under a backfill).
 */
export async function writeThroughSink<T>(spec: SinkSpec<StreamRecord<T>>, client: ClickHouseClient, values: readonly T[], eventTime: (value: T) => number, origin?: string): Promise<void> {
  const failures: unknown[] = [];
  const sink = spec.create(clickhouseSinkEnvironment(client, failures, origin));
  await sink.open();
  for (let i = 0; i < values.length; i += 5_000) {
    sink.write(values.slice(i, i + 5_000).map((value) => ({ value, key: '', eventTime: eventTime(value), topic: '', partition: -1, offset: '' })), []);
    if (sink.isFull()) await sink.whenReady();
  }
  await sink.flush();
  await sink.close();
  if (failures.length > 0) throw failures[0];
}
