import type { Observable } from 'rxjs';
import type { Batch, DeadLetter, LateRecord, StreamRecord } from '../core/batch.ts';
import { ConfigError } from '../core/errors.ts';
import type { SinkSpec } from '../sinks/sink.ts';
import type { SourceSpec } from '../sources/source.ts';
import { LookupTable } from '../tables/lookup-table.ts';
import type { ServedModel } from '../scoring/served-model.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';
import { checkGovernance, type TopologyGovernance } from '../governance/governance-spec.ts';
import { DataContract } from '../contracts/define-contract.ts';
import type { ContractViolation } from '../contracts/contract-check.ts';
import { freshnessTargets, type FreshnessSlos } from './freshness.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PipelineOutputs = Record<string, Observable<Batch<any>>>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RecordSink = SinkSpec<StreamRecord<any>>;

/** A topology: where events come from, how they become results, and where results go. */
export interface TopologyDefinition<TIn, O extends PipelineOutputs> {
  /** Stable name: keys consumer groups, state, metrics and tables' topology column. */
  name: string;
  /** The online source (Kafka). */
  source: SourceSpec<TIn>;
  /** Used instead of `source` when no broker is configured (the embedded demo). */
  demoSource?: SourceSpec<TIn>;
  /** The same function runs online, in the demo and over arrays in tests. */
  pipeline: (input: Observable<Batch<TIn>>) => O;
  /** Sinks per pipeline output; `raw` receives the decoded source events. */
  sinks: { raw?: SinkSpec<StreamRecord<TIn>>[] } & { [K in keyof O]?: RecordSink[] };
  /** Where records later than every window they belong to go. */
  late?: SinkSpec<LateRecord>;
  /** Where records that cannot be decoded or processed go (one destination or several). */
  deadLetter?: SinkSpec<DeadLetter> | SinkSpec<DeadLetter>[];
  /**
   * The lookup tables the pipeline reads (enrich): the engine fills each from its source and
   * waits until all are caught up before the main source starts. A table the pipeline uses but
   * that is not listed here is never filled, so every lookup in it misses.
   */
  tables?: LookupTable<unknown>[];
  /**
   * The served models the pipeline scores with (servedModel): the engine starts each (registry,
   * first load, polling for promotions) before the source, and stops it at the end.
   */
  models?: ServedModel[];
  /** Where the model lifecycle's batch jobs (backfill, train, score-batch, models) find this topology's data. */
  lifecycle?: LifecycleSpec;
  /**
   * Data protection (README "Data protection"): what happens to fields the schemas tag `"pii"`
   * at each destination. A topology whose sinks receive a tagged field without a policy for its
   * destination fails at start, naming the field, the destination and the fix.
   */
  governance?: TopologyGovernance;
  /**
   * The input's data contract (defineContract): every record is checked as it enters, before the
   * pipeline and the event-time clock; one that breaks a rule goes to the dead letters as step
   * `contract:<rule>` (or to `quarantine`) and never reaches a window or the raw sinks.
   */
  contract?: DataContract<TIn>;
  /** Where records that break the contract go instead of the dead letters: clickhouseQuarantine(table). */
  quarantine?: SinkSpec<ContractViolation>;
  /**
   * Freshness SLOs per output: how old (processing time minus event time) a record may be when
   * the pipeline emits it, e.g. `{ features: '2m' }`. Reported as tributary_output_freshness_slo_seconds
   * and tributary_output_stale_records_total (the SLO burn); a score step gates on its own
   * `maxInputAge` (usually the SLO of its input).
   */
  freshness?: FreshnessSlos;
  /**
   * A Confluent-API Schema Registry (e.g. SCHEMA_REGISTRY_URL) instead of the embedded
   * schemas/registry.json ids: the source resolves writer schemas by id over its API, Avro Kafka
   * topic sinks register their schema under `<topic>-value` after a compatibility check.
   */
  schemaRegistry?: { url: string };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTopology = TopologyDefinition<any, PipelineOutputs>;

const NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

/** Declares a topology; checks the declaration eagerly so mistakes fail at startup, not mid-stream. */
export function defineTopology<TIn, O extends PipelineOutputs>(definition: TopologyDefinition<TIn, O>): TopologyDefinition<TIn, O> {
  if (typeof definition.name !== 'string' || !NAME_PATTERN.test(definition.name)) {
    throw new ConfigError('name', `"${String(definition.name)}" is not a valid topology name`, 'use lowercase letters, digits, - and _ (e.g. "card-fraud")');
  }
  if (!definition.source || typeof definition.source.create !== 'function') {
    throw new ConfigError('source', 'no source is declared', 'set source: kafkaTopic({ topic, format, schema, eventTime })');
  }
  if (typeof definition.pipeline !== 'function') {
    throw new ConfigError('pipeline', 'pipeline must be a function from the input stream to named outputs', 'write pipeline: (events) => ({ results: events.pipe(...) })');
  }
  if (!definition.sinks || typeof definition.sinks !== 'object') {
    throw new ConfigError('sinks', 'no sinks are declared', 'map pipeline outputs to sinks, e.g. sinks: { results: [clickhouseTable(...)] }');
  }
  for (const [output, specs] of Object.entries(definition.sinks)) {
    if (!Array.isArray(specs)) throw new ConfigError(`sinks.${output}`, 'must be an array of sinks', `write sinks: { ${output}: [clickhouseTable(...)] }`);
  }
  checkTables(definition.tables);
  checkGovernance(definition.governance);
  if (definition.contract !== undefined && !(definition.contract instanceof DataContract)) {
    throw new ConfigError('contract', 'is not a data contract', "build it with defineContract({ name, rules: { ... } })");
  }
  if (definition.quarantine !== undefined && definition.contract === undefined) {
    throw new ConfigError('quarantine', 'a quarantine table is declared but no contract', 'add contract: defineContract({...}), or remove quarantine');
  }
  freshnessTargets(definition.freshness);
  return definition;
}

function checkTables(tables: unknown): void {
  if (tables === undefined) return;
  if (!Array.isArray(tables)) throw new ConfigError('tables', 'must be an array of lookup tables', "write tables: [kafkaTable({ name: 'merchants', topic: 'merchants', format: 'json' })]");
  const names = new Set<string>();
  tables.forEach((table: unknown, i) => {
    if (!(table instanceof LookupTable)) throw new ConfigError(`tables[${i}]`, 'is not a lookup table', 'create it with kafkaTable({...}) or lookupTable({...})');
    if (names.has(table.name)) throw new ConfigError(`tables[${i}]`, `a second table is named "${table.name}"`, 'give each table its own name (it labels metrics and logs)');
    names.add(table.name);
  });
}

/** Calls the pipeline and checks that every sinks entry names an output it returns. */
export function buildOutputs<TIn>(topology: AnyTopology, input: Observable<Batch<TIn>>): PipelineOutputs {
  const outputs = topology.pipeline(input);
  if (!outputs || typeof outputs !== 'object') {
    throw new ConfigError('pipeline', 'the pipeline did not return an object of named streams', 'return e.g. { features, predictions }');
  }
  for (const name of [...Object.keys(topology.sinks), ...Object.keys(topology.freshness ?? {})]) {
    if (name !== 'raw' && !(name in outputs)) {
      const entry = name in topology.sinks ? 'sinks' : 'freshness';
      throw new ConfigError(`${entry}.${name}`, `the pipeline returns no output named "${name}" (it returns: ${Object.keys(outputs).join(', ') || 'nothing'})`, `rename the ${entry} entry or return that stream from the pipeline`);
    }
  }
  return outputs;
}

/** The WebSocket channels a topology publishes on (its websocketChannel sinks), in declaration order. */
export function websocketChannels(topology: AnyTopology): string[] {
  const specs = Object.values(topology.sinks).flat() as SinkSpec<never>[];
  return [...new Set(specs.filter((spec) => spec.kind === 'websocket' && spec.destination !== undefined).map((spec) => spec.destination!))];
}
