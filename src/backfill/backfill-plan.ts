import { ConfigError, TributaryError } from '../core/errors.ts';
import { isClickHouseTableSpec, type ClickHouseTableSpec } from '../sinks/clickhouse/table-sink.ts';
import type { SinkSpec } from '../sinks/sink.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';
import { fromEventTime, type WarmupSkips } from './backfill-warmup.ts';

/** What `tributary backfill` reads: the raw events table, its Avro schema and event-time column. */
export interface BackfillEvents {
  table: string;
  schema: string;
  timeColumn: string;
}

/** A ClickHouse table sink of the topology that writes `table`, with rollups or without. */
function tableSinkOf(topology: AnyTopology, table: string): ClickHouseTableSpec<unknown> | undefined {
  const specs = Object.values(topology.sinks).flat() as SinkSpec<never>[];
  return specs.filter(isClickHouseTableSpec).find((spec) => spec.table === table) as ClickHouseTableSpec<unknown> | undefined;
}

/**
 * The events table from --table or the topology's lifecycle; its schema from --schema or the
 * topology's sink that writes it; its time column from --time-column, the lifecycle (for its
 * own events table) or that sink's timeField.
 */
export function backfillEvents(topology: AnyTopology, options: { table?: string; schema?: string; timeColumn?: string }): BackfillEvents {
  const lifecycle = (topology as { lifecycle?: LifecycleSpec }).lifecycle;
  const table = options.table ?? lifecycle?.eventsTable;
  if (table === undefined) {
    throw new ConfigError('--table', `topology "${topology.name}" declares no lifecycle.eventsTable`, 'pass --table <the raw events table>, e.g. --table payments');
  }
  const sink = tableSinkOf(topology, table);
  const schema = options.schema ?? sink?.schema;
  if (schema === undefined) {
    throw new ConfigError('--schema', `no ClickHouse table sink of topology "${topology.name}" writes ${table}, so its Avro schema is unknown`, 'pass --schema <file in schemas/>, e.g. --schema payment.avsc');
  }
  const timeColumn = options.timeColumn ?? (lifecycle?.eventsTable === table ? lifecycle.eventsTimeColumn : undefined) ?? sink?.timeField;
  if (timeColumn === undefined) {
    throw new ConfigError('--time-column', `neither the topology's lifecycle nor its sink of ${table} names the event-time column`, 'pass --time-column <epoch-ms column>, e.g. --time-column ts');
  }
  return { table, schema, timeColumn };
}

export interface BackfillTopology {
  topology: AnyTopology;
  /** Descriptions of the sinks the backfill writes, and of those it leaves out. */
  kept: string[];
  skipped: string[];
  /** ClickHouse tables without an origin column: backfilled rows replace online rows of the same key there. */
  withoutOrigin: string[];
}

/**
 * The topology as a backfill runs it: no raw sinks (the events are already stored), and only
 * ClickHouse sinks for the outputs, the late records and the dead letters. Online state,
 * WebSocket and Kafka sinks (and sinks that declare no kind) are left out: a backfill must not
 * overwrite the live online state, push history to dashboards or produce to Kafka. Each kept
 * sink refuses to open unless the engine tags its rows as a backfill's (EngineOptions.origin).
 * With `warmup`, the output and late sinks write only rows with event time >= `warmup.from`
 * (see backfill-warmup.ts) and count the others in `warmup.skipped`.
 */
export function backfillTopology(topology: AnyTopology, origin: string, warmup?: { from: number; skipped: WarmupSkips }): BackfillTopology {
  const kept: string[] = [];
  const skipped: string[] = [];
  const withoutOrigin: string[] = [];
  const fromWarmup = <T>(spec: SinkSpec<T>, output: string) => (warmup === undefined ? spec : fromEventTime(spec, warmup.from, output, warmup.skipped));
  const keep = <T>(spec: SinkSpec<T>): boolean => {
    (spec.kind === 'clickhouse' ? kept : skipped).push(spec.description);
    if (isClickHouseTableSpec(spec as SinkSpec<never>) && !(spec as ClickHouseTableSpec<unknown>).origin) withoutOrigin.push((spec as ClickHouseTableSpec<unknown>).table);
    return spec.kind === 'clickhouse';
  };
  const sinks: Record<string, SinkSpec<never>[]> = {};
  for (const [output, specs] of Object.entries(topology.sinks)) {
    if (output === 'raw') {
      skipped.push(...(specs ?? []).map((spec) => spec.description));
      continue;
    }
    sinks[output] = (specs ?? []).filter(keep).map((spec) => fromWarmup(tagged(spec, origin), output));
  }
  if (kept.length === 0) {
    throw new ConfigError('sinks', `topology "${topology.name}" has no ClickHouse sink for its outputs, so a backfill would write nothing`, 'add a clickhouseTable(...) sink to the outputs to backfill');
  }
  const late = topology.late !== undefined && keep(topology.late) ? fromWarmup(tagged(topology.late, origin), 'late') : undefined;
  const deadLetter = [topology.deadLetter ?? []].flat().filter(keep).map((spec) => tagged(spec, origin));
  // Stored events passed the contract when they arrived; a quarantine is kept for any that no longer do.
  const quarantine = topology.quarantine !== undefined && keep(topology.quarantine) ? tagged(topology.quarantine, origin) : undefined;
  return { topology: { ...topology, sinks, late, deadLetter, quarantine }, kept, skipped, withoutOrigin };
}

/** The same spec, failing to create unless the engine passes the backfill's origin to its sinks. */
function tagged<T>(spec: SinkSpec<T>, origin: string): SinkSpec<T> {
  return {
    ...spec,
    create(env) {
      if (env.origin !== origin) {
        throw new TributaryError(`sink ${spec.description} would write rows tagged "${env.origin ?? 'online'}", not "${origin}": the engine does not pass EngineOptions.origin to its sinks`, { code: 'BACKFILL_ORIGIN' });
      }
      return spec.create(env);
    },
  };
}
