import { ConfigError } from '../core/errors.ts';
import { checkFieldPolicies, checkPolicyTable, type DestinationPolicies, type PolicyTable } from './policies.ts';

/**
 * A topology's data protection (defineTopology's `governance`). Tags come from the Avro schemas
 * (`"pii"` on fields, `"subject"` on records); this says what happens to each tag at each
 * destination, and where the schemas cannot say it, how output fields derive from input fields.
 *
 * @example
 * governance: {
 *   policies: { direct: { clickhouse: 'hash', state: 'hash', websocket: 'hash', websocketAdmin: 'token', late: 'hash', deadLetters: 'encrypt', kafka: 'encrypt' } },
 *   derivedFrom: { sum1m: 'amount', max1m: 'amount' },
 *   safe: ['count1m'],
 * }
 */
export interface TopologyGovernance {
  /** Per tag, per destination: keep, drop, hash, token, a generalization, or (dead letters) encrypt. */
  policies: PolicyTable;
  /** Per-field exceptions to the tag's policies, e.g. `{ country: { clickhouse: { prefix: 1 } } }`. */
  fields?: Record<string, DestinationPolicies>;
  /**
   * The Avro schema of the source's records (a file in the schemas folder): its tags are those of
   * the raw events and of lineage. Default: the source's own schema, else the schema of the first
   * ClickHouse table of `sinks.raw`.
   */
  input?: string;
  /** The subject field where no schema declares one (default: the input schema's `subject`). */
  subject?: string;
  /** Output fields computed from input fields (e.g. `{ sum1m: 'amount' }`): they carry those fields' tags. */
  derivedFrom?: Record<string, string | readonly string[]>;
  /** Output fields that carry no tag by lineage (an aggregate over many subjects, a count). */
  safe?: readonly string[];
}

/** Checks a governance declaration when the topology is defined. */
export function checkGovernance(governance: unknown): TopologyGovernance | undefined {
  if (governance === undefined) return undefined;
  if (governance === null || typeof governance !== 'object') throw new ConfigError('governance', 'must be an object', "write governance: { policies: { direct: { clickhouse: 'hash' } } }");
  const spec = governance as TopologyGovernance;
  checkPolicyTable(spec.policies);
  checkFieldPolicies(spec.fields);
  if (spec.input !== undefined && (typeof spec.input !== 'string' || !spec.input.endsWith('.avsc'))) throw new ConfigError('governance.input', `${JSON.stringify(spec.input)} is not a schema file`, "name an .avsc file in the schemas folder, e.g. 'payment.avsc'");
  if (spec.subject !== undefined && typeof spec.subject !== 'string') throw new ConfigError('governance.subject', 'must be a field name', "e.g. subject: 'cardId'");
  for (const [field, sources] of Object.entries(spec.derivedFrom ?? {})) {
    const list = typeof sources === 'string' ? [sources] : sources;
    if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s !== '')) {
      throw new ConfigError(`governance.derivedFrom.${field}`, 'must name the input field(s) it is computed from', "e.g. derivedFrom: { sum1m: 'amount' } or { ratio: ['amount', 'limit'] }");
    }
  }
  if (spec.safe !== undefined && (!Array.isArray(spec.safe) || !spec.safe.every((f) => typeof f === 'string'))) {
    throw new ConfigError('governance.safe', 'must be an array of field names', "e.g. safe: ['count1m']");
  }
  return spec;
}

/** The input fields an output field derives from (none when it is not declared). */
export function sourcesOf(governance: TopologyGovernance | undefined, field: string): readonly string[] {
  const sources = governance?.derivedFrom?.[field];
  return sources === undefined ? [] : typeof sources === 'string' ? [sources] : sources;
}
