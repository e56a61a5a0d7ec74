import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { PII_TAGS, type PiiTag } from './tags.ts';

/**
 * Where tagged values can leave the engine. Each sink belongs to one: ClickHouse tables (and
 * their rollups), online state (Redis), WebSocket channels (what analysts and, separately,
 * admins receive), late records, the quarantine of records that broke the data contract, dead
 * letters (ClickHouse table) and the Kafka dead-letter topic; 'other' is a sink that declares no
 * kind. Logs and metric labels never carry record values; they accept only 'drop'.
 */
export const DESTINATIONS = ['clickhouse', 'state', 'websocket', 'websocketAdmin', 'late', 'quarantine', 'deadLetters', 'kafka', 'logs', 'metrics', 'other'] as const;
export type Destination = (typeof DESTINATIONS)[number];

/** Destinations that receive raw bytes (dead letters): the bytes are kept, dropped or encrypted. */
export const RAW_DESTINATIONS: readonly Destination[] = ['deadLetters', 'kafka'];
const NEVER_WRITTEN: readonly Destination[] = ['logs', 'metrics'];

/** A generalization: amounts to buckets, numbers to significant digits, ids to a prefix, times to a unit. */
export type Generalization = { bucket: number } | { significant: number } | { prefix: number } | { truncate: Duration };

/**
 * What happens to a tagged field on its way to a destination:
 * - 'keep': stored as it is (an explicit decision: the destination is trusted with it);
 * - 'drop': left out (a ClickHouse table gets no column for it);
 * - 'hash': HMAC-SHA256 under the managed key, stable, so joins, grouping and keys still work;
 * - 'token': encrypted under the subject's own key (AES-256-GCM): an admin can detokenize it,
 *   erasure of the subject makes it unreadable everywhere;
 * - a generalization (see Generalization), applied in place;
 * - 'encrypt': dead letters only, the raw bytes and error text under the dead-letter key.
 */
export type FieldPolicy = 'keep' | 'drop' | 'hash' | 'token' | Generalization;
export type RawPolicy = 'keep' | 'drop' | 'encrypt';
export type Policy = FieldPolicy | RawPolicy;

export type DestinationPolicies = { [D in Destination]?: Policy };
export type PolicyTable = { [T in PiiTag]?: DestinationPolicies };

/** A policy checked and ready to apply. */
export type ResolvedPolicy =
  | { kind: 'keep' | 'drop' | 'hash' | 'token' | 'encrypt' }
  | { kind: 'bucket'; width: number }
  | { kind: 'significant'; digits: number }
  | { kind: 'prefix'; length: number }
  | { kind: 'truncate'; unitMs: number };

const FIELD_FIX = "'keep', 'drop', 'hash', 'token', { bucket: 100 }, { significant: 2 }, { prefix: 4 } or { truncate: '1m' }";

/**
 * The policy of a field with `tag` at `destination`: the field's own (`overrides`) before its
 * tag's; the admin view of a channel falls back to the channel's; logs and metrics to 'drop'.
 * Undefined when none is declared.
 */
export function policyOf(table: PolicyTable, tag: PiiTag, destination: Destination, overrides?: DestinationPolicies): ResolvedPolicy | undefined {
  const pick = (policies: DestinationPolicies | undefined) => policies?.[destination] ?? (destination === 'websocketAdmin' ? policies?.websocket : undefined);
  const declared = pick(overrides) ?? pick(table[tag]);
  if (declared === undefined) return NEVER_WRITTEN.includes(destination) ? { kind: 'drop' } : undefined;
  return resolvePolicy(declared, tag, destination);
}

/** Checks per-field overrides (`governance.fields`) like a policy table. */
export function checkFieldPolicies(fields: unknown): void {
  if (fields === undefined) return;
  if (fields === null || typeof fields !== 'object') throw new ConfigError('governance.fields', 'must map field names to destination policies', "write fields: { country: { clickhouse: 'keep' } }");
  for (const [name, destinations] of Object.entries(fields)) {
    for (const [destination, policy] of Object.entries((destinations ?? {}) as object)) {
      if (!DESTINATIONS.includes(destination as Destination)) throw new ConfigError(`governance.fields.${name}.${destination}`, 'is not a destination', `use ${DESTINATIONS.join(', ')}`);
      resolvePolicy(policy as Policy, 'direct', destination as Destination, `governance.fields.${name}.${destination}`);
    }
  }
}

/** Checks a whole policy table once, when the topology is defined. */
export function checkPolicyTable(table: unknown): PolicyTable {
  if (table === null || typeof table !== 'object') throw new ConfigError('governance.policies', 'must be an object of tags', "write policies: { direct: { clickhouse: 'hash', ... } }");
  for (const [tag, destinations] of Object.entries(table)) {
    if (!PII_TAGS.includes(tag as PiiTag)) throw new ConfigError(`governance.policies.${tag}`, 'is not a tag', `use ${PII_TAGS.join(', ')}`);
    if (destinations === null || typeof destinations !== 'object') throw new ConfigError(`governance.policies.${tag}`, 'must map destinations to policies', "write e.g. { clickhouse: 'hash', state: 'hash' }");
    for (const [destination, policy] of Object.entries(destinations as object)) {
      if (!DESTINATIONS.includes(destination as Destination)) throw new ConfigError(`governance.policies.${tag}.${destination}`, 'is not a destination', `use ${DESTINATIONS.join(', ')}`);
      resolvePolicy(policy as Policy, tag as PiiTag, destination as Destination);
    }
  }
  return table as PolicyTable;
}

function resolvePolicy(policy: Policy, tag: PiiTag, destination: Destination, field = `governance.policies.${tag}.${destination}`): ResolvedPolicy {
  if (NEVER_WRITTEN.includes(destination)) {
    if (policy !== 'drop') throw new ConfigError(field, `${JSON.stringify(policy)}: the engine never writes record values to ${destination}`, "use 'drop' (the default)");
    return { kind: 'drop' };
  }
  if (RAW_DESTINATIONS.includes(destination)) {
    if (policy === 'keep' || policy === 'drop' || policy === 'encrypt') return { kind: policy };
    throw new ConfigError(field, `${JSON.stringify(policy)} cannot apply to a dead letter's raw bytes`, "use 'encrypt' (admin can read them), 'drop' (the bytes are not kept) or 'keep'");
  }
  if (policy === 'keep' || policy === 'drop' || policy === 'hash' || policy === 'token') return { kind: policy };
  if (policy !== null && typeof policy === 'object') {
    const generalization = policy as Record<string, unknown>;
    const keys = Object.keys(generalization);
    const [name] = keys;
    const value = generalization[name!];
    if (keys.length === 1) {
      if (name === 'bucket' && typeof value === 'number' && value > 0 && Number.isFinite(value)) return { kind: 'bucket', width: value };
      if (name === 'significant' && Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 15) return { kind: 'significant', digits: value as number };
      if (name === 'prefix' && Number.isInteger(value) && (value as number) >= 0) return { kind: 'prefix', length: value as number };
      if (name === 'truncate' && (typeof value === 'string' || typeof value === 'number')) {
        const unitMs = toMillis(value as Duration, `${field}.truncate`);
        if (unitMs > 0) return { kind: 'truncate', unitMs };
      }
    }
  }
  throw new ConfigError(field, `${JSON.stringify(policy)} is not a policy`, `use ${FIELD_FIX}`);
}

/** Whether a value under this policy is stored as text whatever its type was (hash, token). */
export function storesText(policy: ResolvedPolicy): boolean {
  return policy.kind === 'hash' || policy.kind === 'token';
}
