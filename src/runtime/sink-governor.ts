import { governedSchema } from '../governance/governed-schema.ts';
import type { Keyring } from '../governance/keyring.ts';
import type { TaggedSchema } from '../governance/lineage.ts';
import type { Destination } from '../governance/policies.ts';
import { deadLetterMasker, lateMasker, quarantineMasker, recordMasker, type RowMasker } from '../governance/row-maskers.ts';
import { schemaReader, UNTAGGED_INPUT } from '../governance/schema-file.ts';
import { planSinks, type MaskPlan, type SinkDeclaration, type SinkPlan } from '../governance/sink-plans.ts';
import { ValueMasker } from '../governance/value-masker.ts';
import { isClickHouseTableSpec } from '../sinks/clickhouse/table-sink.ts';
import { BackgroundTurns } from '../sinks/background-turns.ts';
import { GovernedSink, type GovernedView } from '../sinks/governed-sink.ts';
import type { PushServer } from '../sinks/push-port.ts';
import type { Sink, SinkEnvironment, SinkSpec } from '../sinks/sink.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import type { StreamRecord } from '../core/batch.ts';

/** What a sink does in its topology: an output's, the late records', or a dead-letter one. */
export type SinkRole = 'output' | 'late' | 'quarantine' | 'deadLetter';

/**
 * Data protection at the runtime's one place where sinks are made: reads the tags of the
 * topology's schemas, checks every sink against its policies at start (a ConfigError names the
 * field, destination and fix) and wraps each sink that receives tagged fields in a GovernedSink,
 * which masks rows once per batch before the sink sees them. Sinks without tagged fields, or
 * whose policies all keep, are created exactly as without governance.
 */
export class SinkGovernor {
  private readonly plans: Map<SinkDeclaration, SinkPlan>;
  private readonly declarations = new Map<SinkSpec<never>, SinkDeclaration>();
  /** Masking of every governed sink but WebSocket channels, in turns after the close path. */
  private readonly background = new BackgroundTurns();
  /** Whether any view tokenizes (then subjects' keys are fetched as the input shows them). */
  private readonly tokenizes: boolean;
  /** Online state prefixes and whether their keys are pseudonymized. */
  readonly statePrefixes: Array<{ prefix: string; pseudonymized: boolean }> = [];

  constructor(
    topology: AnyTopology,
    schemasDir: string,
    private readonly keyring: () => Promise<Keyring>,
  ) {
    const read = schemaReader(schemasDir);
    const declare = (spec: SinkSpec<never>, output: string, destination: Destination) => {
      const schema = isClickHouseTableSpec(spec) && (output === 'raw' || topology.sinks[output] !== undefined) ? read(spec.schema) : undefined;
      const declaration: SinkDeclaration = { output, destination, name: spec.description, ...(schema ? { schema } : {}) };
      this.declarations.set(spec, declaration);
    };
    for (const [output, specs] of Object.entries(topology.sinks)) for (const spec of (specs ?? []) as SinkSpec<never>[]) declare(spec, output, destinationOf(spec));
    if (topology.late) declare(topology.late as SinkSpec<never>, 'late', 'late');
    if (topology.quarantine) declare(topology.quarantine as SinkSpec<never>, 'quarantine', 'quarantine');
    for (const spec of [topology.deadLetter ?? []].flat() as SinkSpec<never>[]) declare(spec, 'deadLetter', spec.kind === 'kafka' ? 'kafka' : 'deadLetters');
    this.plans = planSinks(topology.governance, inputSchema(topology, read), [...this.declarations.values()]);
    this.tokenizes = [...this.plans.values()].some((plan) => plan.views.some((view) => view.fields.some((field) => field.policy.kind === 'token')));
    for (const [spec, declaration] of this.declarations) {
      if (declaration.destination !== 'state' || spec.destination === undefined) continue;
      const key = this.plans.get(declaration)?.views[0]?.key.kind ?? 'keep';
      this.statePrefixes.push({ prefix: spec.destination, pseudonymized: key !== 'keep' });
    }
  }

  /** Whether any sink is governed (then the key store is opened at start). */
  get active(): boolean {
    return this.plans.size > 0;
  }

  /** The sink of `spec`, masked by its plan when it has one. */
  create<R>(spec: SinkSpec<R>, role: SinkRole, env: SinkEnvironment): Sink<R> {
    const declaration = this.declarations.get(spec as SinkSpec<never>);
    const plan = declaration && this.plans.get(declaration);
    if (!declaration || !plan) return spec.create(env);
    const views = plan.views.map((view) => ({ view, sink: spec.create(this.viewEnvironment(env, view, spec)) }));
    return new GovernedSink<R>(
      views[0]!.sink.name,
      async () => {
        const keyring = await this.keyring();
        if (declaration.destination === 'websocket' && spec.destination !== undefined) env.push()?.declareAdminView?.(spec.destination);
        return {
          views: views.map(({ view, sink }): GovernedView<R> => ({ sink, masker: maskerOf(role, view, plan, keyring) as RowMasker<R> })),
          cachedKeys: (subjects) => keyring.cachedKeys(subjects),
          loadKeys: (subjects) => keyring.loadKeys(subjects),
          // The input's table sees each subject seconds before its windows close and are tokenized.
          ...(role === 'output' && declaration.output === 'raw' && this.tokenizes ? { prefetch: keyPrefetch(new ValueMasker(plan.views[0]!, keyring), keyring) as (rows: readonly R[]) => void } : {}),
        };
      },
      env.logger,
      env.fail,
      undefined,
      // A WebSocket channel is what dashboards wait for: masked at once, the others after it.
      declaration.destination === 'websocket' ? undefined : this.background,
    );
  }

  /** The store key GET /state reads for `key`: a clear id after a pseudonymized prefix is hashed. */
  async stateKey(key: string): Promise<string> {
    const match = this.statePrefixes.filter((p) => p.pseudonymized && key.startsWith(p.prefix)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
    if (match === undefined) return key;
    const id = key.slice(match.prefix.length);
    return id === '' ? key : match.prefix + (await this.keyring()).pseudonyms.hash(id);
  }

  /** An online state key of a subject per state sink (erasure): the pseudonym where keys are pseudonymized. */
  stateKeysOf(id: string, subject: string): string[] {
    return this.statePrefixes.map(({ prefix, pseudonymized }) => prefix + (pseudonymized ? subject : id));
  }

  private viewEnvironment(env: SinkEnvironment, view: MaskPlan, spec: SinkSpec<unknown>): SinkEnvironment {
    if (view.destination === 'clickhouse' && isClickHouseTableSpec(spec as SinkSpec<never>)) return { ...env, governedSchema: (schema) => governedSchema(schema, view) };
    if (view.destination !== 'websocketAdmin') return env;
    // The admin view's sink publishes what it writes as the channel's admin view.
    let server: PushServer | undefined;
    let admin: PushServer | undefined;
    const push = () => {
      const current = env.push();
      if (current !== server) {
        server = current;
        admin = current && { port: current.port, publish: (channel, items, keys) => current.publish(channel, items, keys, 'admin'), close: () => current.close() };
      }
      return admin;
    };
    return { ...env, push };
  }
}

function destinationOf(spec: SinkSpec<never>): Destination {
  switch (spec.kind) {
    case 'clickhouse':
    case 'state':
    case 'websocket':
    case 'kafka':
      return spec.kind;
    default:
      return 'other';
  }
}

/** The input schema: governance.input, else the source's, else the first ClickHouse table of sinks.raw. */
function inputSchema(topology: AnyTopology, read: (file: string) => TaggedSchema): TaggedSchema {
  const raw = ((topology.sinks.raw ?? []) as SinkSpec<never>[]).find(isClickHouseTableSpec);
  const file = topology.governance?.input ?? topology.source.schema ?? (raw && isClickHouseTableSpec(raw) ? raw.schema : undefined);
  return file === undefined ? UNTAGGED_INPUT : read(file);
}

function maskerOf(role: SinkRole, view: MaskPlan, plan: SinkPlan, keyring: Keyring): RowMasker<unknown> {
  if (role === 'deadLetter') return deadLetterMasker(plan.raw!, keyring) as RowMasker<unknown>;
  const masker = new ValueMasker(view, keyring);
  if (role === 'quarantine') return quarantineMasker(masker) as RowMasker<unknown>;
  return (role === 'late' ? lateMasker(masker) : recordMasker(masker)) as RowMasker<unknown>;
}

/** Starts creating the keys of the subjects of input records that are not in memory yet. */
function keyPrefetch(masker: ValueMasker, keyring: Keyring): (records: readonly StreamRecord<unknown>[]) => void {
  return (records) => {
    const subjects = new Set<string>();
    for (const record of records) {
      const subject = masker.subjectOf(record.value, record.key);
      if (subject !== undefined) subjects.add(subject);
    }
    keyring.prefetch(subjects);
  };
}
