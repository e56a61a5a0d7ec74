import { ConfigError } from '../core/errors.ts';
import type { TopologyGovernance } from './governance-spec.ts';
import { outputTags, tagsIn, type OutputTags, type TaggedSchema } from './lineage.ts';
import { policyOf, type Destination, type ResolvedPolicy } from './policies.ts';
import { mergeTags, type PiiTag } from './tags.ts';

/** A sink as the runtime declares it to governance. */
export interface SinkDeclaration {
  /** 'raw', a pipeline output, 'late', 'quarantine' or 'deadLetter'. */
  output: string;
  destination: Destination;
  /** For messages: the spec's description ("ClickHouse table payments (payment.avsc)"). */
  name: string;
  /** The ClickHouse table's schema file, when the sink has one. */
  schema?: TaggedSchema;
}

/** How one view of a sink masks records: the non-keep fields, the record key, the subject field. */
export interface MaskPlan {
  destination: Destination;
  fields: ReadonlyArray<{ name: string; tag: PiiTag; policy: ResolvedPolicy }>;
  key: ResolvedPolicy;
  subject: string | undefined;
}

/** What governance does to one sink: its views (two for a channel: analysts, admins), or raw bytes. */
export interface SinkPlan {
  views: MaskPlan[];
  /** Dead letters: what happens to raw bytes and error text (the strictest policy of the tags present). */
  raw?: ResolvedPolicy;
}

const KEEP: ResolvedPolicy = { kind: 'keep' };

/**
 * Checks every sink against the policies and plans its masking. Fails with a ConfigError naming
 * the field, the destination and the fix when a tagged field reaches a sink whose destination has
 * no policy for its tag (or the topology declares no governance at all). Sinks that receive no
 * tagged field, or only 'keep' ones, get no plan: they run exactly as without governance.
 */
export function planSinks(governance: TopologyGovernance | undefined, input: TaggedSchema, sinks: readonly SinkDeclaration[]): Map<SinkDeclaration, SinkPlan> {
  const schemas = sinks.flatMap((s) => (s.schema ? [s.schema] : []));
  const known = mergeTags(input.tags, ...schemas.map((s) => s.tags));
  const byOutput = new Map<string, OutputTags>();
  const tagsOf = (output: string): OutputTags => {
    let tags = byOutput.get(output);
    if (tags === undefined) {
      const outputSchemas = sinks.filter((s) => s.output === output && s.schema).map((s) => s.schema!);
      byOutput.set(output, (tags = outputTags(output, input, outputSchemas, known, governance)));
    }
    return tags;
  };
  const anywhere: OutputTags = { fields: known, subject: governance?.subject ?? input.tags.subject };
  const plans = new Map<SinkDeclaration, SinkPlan>();
  for (const sink of sinks) {
    // Side outputs carry records of any stage (the source's mostly): every known tag by field name.
    const tags = sink.output === 'late' || sink.output === 'quarantine' || sink.output === 'deadLetter' ? anywhere : tagsOf(sink.output);
    const plan = sink.destination === 'deadLetters' || sink.destination === 'kafka' ? rawPlan(governance, sink, tags) : fieldPlan(governance, sink, tags);
    if (plan !== undefined) plans.set(sink, plan);
  }
  return plans;
}

function fieldPlan(governance: TopologyGovernance | undefined, sink: SinkDeclaration, tags: OutputTags): SinkPlan | undefined {
  // A table stores only its schema's fields; other sinks get whatever the rows carry.
  const names = sink.schema ? new Set(sink.schema.fieldNames) : undefined;
  const fields = [...tags.fields].filter(([name]) => names === undefined || names.has(name));
  const keyTag = tags.subject === undefined ? undefined : tags.fields.get(tags.subject);
  const destinations: Destination[] = sink.destination === 'websocket' ? ['websocket', 'websocketAdmin'] : [sink.destination];
  const views = destinations.map((destination): MaskPlan => ({
    destination,
    fields: fields.map(([name, tag]) => ({ name, tag, policy: required(governance, tag, destination, sink, name) })).filter((f) => f.policy.kind !== 'keep'),
    // A table stores values only; elsewhere the record key (the subject's id) is written too.
    key: keyTag === undefined || sink.destination === 'clickhouse' ? KEEP : required(governance, keyTag, destination, sink, tags.subject!, `the record key (the subject ${tags.subject})`),
    subject: tags.subject,
  }));
  return views.every((view) => view.fields.length === 0 && view.key.kind === 'keep') ? undefined : { views };
}

/** Raw bytes cannot be masked field by field: the strictest policy among the tags they may hold. */
function rawPlan(governance: TopologyGovernance | undefined, sink: SinkDeclaration, tags: OutputTags): SinkPlan | undefined {
  const order = ['keep', 'encrypt', 'drop'];
  let raw: ResolvedPolicy = KEEP;
  for (const tag of tagsIn(tags.fields)) {
    const field = [...tags.fields].find(([, t]) => t === tag)![0];
    const policy = required(governance, tag, sink.destination, sink, field);
    if (order.indexOf(policy.kind) > order.indexOf(raw.kind)) raw = policy;
  }
  if (raw.kind === 'keep') return undefined;
  const key: ResolvedPolicy = { kind: 'hash' };
  return { views: [{ destination: sink.destination, fields: [], key, subject: tags.subject }], raw };
}

function required(governance: TopologyGovernance | undefined, tag: PiiTag, destination: Destination, sink: SinkDeclaration, field: string, what = `field "${field}"`): ResolvedPolicy {
  const where = `${sink.name} (output ${sink.output})`;
  if (governance === undefined) {
    throw new ConfigError('governance', `${what} is tagged "${tag}" and reaches ${where}, but the topology declares no governance`, `add governance: { policies: { ${tag}: { ${destination}: 'hash' } } } to defineTopology (README "Data protection"), or 'keep' to store it in clear on purpose`);
  }
  const policy = policyOf(governance.policies, tag, destination, governance.fields?.[field]);
  if (policy !== undefined) return policy;
  const choices = destination === 'deadLetters' || destination === 'kafka' ? "'encrypt', 'drop' or 'keep'" : "'hash', 'token', 'drop', a generalization such as { significant: 2 }, or 'keep'";
  throw new ConfigError(`governance.policies.${tag}.${destination}`, `${what} (${tag}) reaches ${where} with no policy for ${tag} at ${destination}`, `add governance.policies.${tag}.${destination}: ${choices}`);
}
