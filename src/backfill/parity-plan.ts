import type { AckToken } from '../core/ack.ts';
import type { StreamRecord } from '../core/batch.ts';
import { ConfigError } from '../core/errors.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';
import { isClickHouseTableSpec, type ClickHouseTableSpec } from '../sinks/clickhouse/table-sink.ts';
import { isOnlineStateSpec, type OnlineStateSpec } from '../sinks/online-state.ts';
import type { Sink, SinkSpec } from '../sinks/sink.ts';
import type { AnyTopology } from '../topology/define-topology.ts';

/** What a parity audit compares: the output that writes the lifecycle's feature table, and its online state sink. */
export interface ParityTarget {
  output: string;
  table: string;
  entityColumn: string;
  timeColumn: string;
  featureVersion: string;
  /** The output's online state sink, if it has one (Redis keys to compare). */
  state: OnlineStateSpec<unknown> | undefined;
}

export function parityTarget(topology: AnyTopology, file = 'the topology'): ParityTarget {
  const spec = (topology as { lifecycle?: LifecycleSpec }).lifecycle;
  if (!spec) throw new ConfigError(`${file} lifecycle`, `topology "${topology.name}" declares no lifecycle, so its feature table is unknown`, 'add `lifecycle: { featureSet, featuresTable, entityColumn, featuresTimeColumn, ... }` to its defineTopology');
  for (const [output, specs] of Object.entries(topology.sinks)) {
    if (output === 'raw') continue;
    const list = (specs ?? []) as SinkSpec<never>[];
    const table = list.filter(isClickHouseTableSpec).find((s) => (s as ClickHouseTableSpec<unknown>).table === spec.featuresTable);
    if (table === undefined) continue;
    const state = list.find(isOnlineStateSpec) as OnlineStateSpec<unknown> | undefined;
    return { output, table: spec.featuresTable, entityColumn: spec.entityColumn, timeColumn: spec.featuresTimeColumn, featureVersion: spec.featureSet.version, state };
  }
  throw new ConfigError(`${file} sinks`, `no output of topology "${topology.name}" writes its lifecycle's feature table ${spec.featuresTable}`, 'audit a topology whose feature output has that clickhouseTable sink');
}

/** The feature rows a replay recomputed, one per key and window (the highest revision). */
export class RecomputedRows {
  readonly rows = new Map<string, Record<string, unknown>>();
  /** Rows of windows outside (from, to], not compared: the warm-up's and those crossing `to`. */
  outside = 0;
  late = 0;
  deadLetters = 0;

  constructor(
    private readonly target: ParityTarget,
    private readonly from: number,
    private readonly to: number,
  ) {}

  add(records: readonly StreamRecord<unknown>[]): void {
    const { entityColumn, timeColumn } = this.target;
    for (const record of records) {
      const value = record.value as Record<string, unknown>;
      const window = Number(value[timeColumn]);
      if (!(window > this.from && window <= this.to)) {
        this.outside++;
        continue;
      }
      const key = rowKey(String(value[entityColumn]), window);
      const kept = this.rows.get(key);
      if (kept === undefined || Number(value.revision ?? 0) >= Number(kept.revision ?? 0)) this.rows.set(key, value);
    }
  }
}

export function rowKey(entity: string, window: number): string {
  return `${entity}\u0000${window}`;
}

/**
 * The topology as the audit runs it: the same pipeline, of which only the audited output is
 * subscribed (so nothing is scored), into a collecting sink; late records and dead letters are
 * counted, nothing is written anywhere, and no served model is started.
 */
export function parityTopology(topology: AnyTopology, target: ParityTarget, collected: RecomputedRows): AnyTopology {
  const pipeline = topology.pipeline;
  return {
    ...topology,
    pipeline: (input) => ({ [target.output]: pipeline(input)[target.output]! }),
    sinks: { [target.output]: [collecting('parity audit', (rows) => collected.add(rows as StreamRecord<unknown>[]))] },
    late: collecting('parity audit: late records', (rows) => void (collected.late += rows.length)),
    deadLetter: [collecting('parity audit: dead letters', (rows) => void (collected.deadLetters += rows.length))],
    models: [],
  } as AnyTopology;
}

function collecting<T>(description: string, take: (rows: readonly T[]) => void): SinkSpec<T> {
  return {
    description,
    create: (): Sink<T> => ({
      name: description,
      open: async () => {},
      // Rows are kept in memory: acknowledged as soon as they are taken.
      write: (rows: readonly T[], _acks: readonly AckToken[]) => take(rows),
      isFull: () => false,
      whenReady: async () => {},
      flush: async () => {},
      close: async () => {},
    }),
  };
}
