import type { ContractViolation } from '../../contracts/contract-check.ts';
import type { SinkSpec } from '../sink.ts';
import { ClickHouseSink } from './clickhouse-sink.ts';
import { createTableSql, type ColumnDef } from '../../clickhouse/create-table.ts';
import { builtInKeyed } from '../../clickhouse/replacing.ts';
import { quoteTableName } from '../../clickhouse/sql.ts';

const COLUMNS: ColumnDef[] = [
  { name: 'topology', type: 'String' },
  { name: 'contract', type: 'String', comment: 'The data contract (event type)' },
  { name: 'rule', type: 'String', comment: 'The first rule the record broke' },
  { name: 'offending', type: 'String', comment: "The value that broke it, cut short: amount=-5" },
  { name: 'error', type: 'String' },
  { name: 'topic', type: 'String' },
  { name: 'partition', type: 'Int32' },
  { name: 'offset', type: 'String', comment: 'Kafka offset as a decimal string' },
  { name: 'key', type: 'String' },
  { name: 'event_time', type: 'Int64', comment: "The record's event time, epoch ms" },
  { name: 'record', type: 'String', comment: 'The decoded record as JSON' },
  { name: 'ingested_at', type: 'DateTime', default: 'now()' },
];

const WRITTEN = COLUMNS.filter((c) => c.default === undefined).map((c) => c.name);

/** One row per record: a replay after a crash quarantines the same records again. */
const KEY = ['topology', 'topic', 'partition', 'offset', 'rule', 'event_time'];

/**
 * A quarantine table for records that broke the topology's data contract, instead of the dead
 * letters: `defineTopology({ contract, quarantine: clickhouseQuarantine('payments_quarantine') })`.
 * Each row holds the record (JSON), the rule, the offending value and the provenance, so a fixed
 * producer's records can be inspected and re-sent. A ReplacingMergeTree keyed by provenance and
 * rule: read it with FINAL.
 */
export function clickhouseQuarantine(table = 'quarantine'): SinkSpec<ContractViolation> {
  quoteTableName(table);
  return {
    description: `ClickHouse quarantine table ${table}`,
    kind: 'clickhouse',
    destination: table,
    create: (env) =>
      new ClickHouseSink<ContractViolation>(env, {
        table,
        plan: (dialect) => ({
          ddl: createTableSql(table, COLUMNS, { orderBy: KEY, replacing: {}, dialect }),
          columns: WRITTEN,
          toRow: (violation) => ({
            topology: env.topology,
            contract: violation.contract,
            rule: violation.rule,
            offending: violation.offending,
            error: violation.error,
            topic: violation.record.topic,
            partition: violation.record.partition,
            offset: violation.record.offset,
            key: violation.record.key,
            event_time: Number.isFinite(violation.record.eventTime) ? Math.trunc(violation.record.eventTime) : 0,
            record: recordJson(violation.record.value),
          }),
          ...builtInKeyed(KEY),
        }),
      }),
  };
}

function recordJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
  } catch (error) {
    return JSON.stringify({ unserializable: String(error) });
  }
}
