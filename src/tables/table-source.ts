import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { LookupTable } from './lookup-table.ts';
import type { KafkaSecurity } from '../kafka/kafka-security.ts';

/** What the engine gives a table's source when it starts it. */
export interface TableEnvironment {
  topology: string;
  logger: Logger;
  metrics: Metrics;
  schemasDir: string;
  kafkaBrokers?: string[];
  /** TLS and SASL for KAFKA_BROKERS; absent: PLAINTEXT. */
  kafkaSecurity?: KafkaSecurity;
  /** The topology's consumer group; a table source derives its own, private group from it. */
  groupId: string;
  /** The engine's shared ClickHouse client (tables filled from ClickHouse, e.g. batch predictions). */
  clickhouse?: () => Promise<ClickHouseClient>;
}

/** A started table source; it keeps the table up to date until closed. */
export interface RunningTableSource {
  close(): Promise<void>;
}

/**
 * Where a lookup table's rows come from (a compacted Kafka topic; Redis or a database could be
 * others). `start` resolves once the table holds everything the source held when it was called,
 * so the records processed after it see a complete table; it keeps applying updates afterwards.
 */
export interface TableSource<V> {
  readonly description: string;
  start(table: LookupTable<V>, environment: TableEnvironment): Promise<RunningTableSource>;
}
