import { ConfigError } from '../core/errors.ts';
import { sourcesOf, type TopologyGovernance } from './governance-spec.ts';
import { PII_TAGS, stricter, type PiiTag, type SchemaTags } from './tags.ts';

/** A schema file as governance sees it: its tags and its top-level field names. */
export interface TaggedSchema {
  file: string;
  tags: SchemaTags;
  fieldNames: readonly string[];
}

/** What one pipeline output carries: tagged fields, and the subject field of its rows. */
export interface OutputTags {
  fields: Map<string, PiiTag>;
  subject: string | undefined;
}

/**
 * The tags of an output's rows. Raw events carry the input schema's tags. A derived output with
 * schemas (its ClickHouse tables) carries theirs, and each of their fields that has the name of a
 * tagged input field, or that `derivedFrom` says is computed from one, must carry at least that
 * tag, unless declared `safe`: otherwise a ConfigError names the field, the schema and the fix.
 * A derived output without schemas (online state, a channel) is assumed to carry every tagged
 * input field by name, and the derived ones.
 */
export function outputTags(output: string, input: TaggedSchema, schemas: readonly TaggedSchema[], known: ReadonlyMap<string, PiiTag>, governance: TopologyGovernance | undefined): OutputTags {
  const subject = schemas.find((s) => s.tags.subject !== undefined)?.tags.subject ?? governance?.subject ?? input.tags.subject;
  const fields = new Map<string, PiiTag>();
  if (output === 'raw') {
    for (const [field, tag] of input.tags.fields) fields.set(field, tag);
    for (const schema of schemas) for (const [field, tag] of schema.tags.fields) fields.set(field, stricter(fields.get(field), tag));
    return { fields, subject };
  }
  const safe = new Set(governance?.safe ?? []);
  const required = (field: string) => (safe.has(field) ? undefined : lineageTag(field, input, known, governance));
  if (schemas.length === 0) {
    const names = new Set([...input.tags.fields.keys(), ...Object.keys(governance?.derivedFrom ?? {})]);
    for (const name of names) {
      const tag = required(name);
      if (tag !== undefined) fields.set(name, tag);
    }
    return { fields, subject };
  }
  for (const schema of schemas) {
    for (const name of schema.fieldNames) {
      const needed = required(name);
      const declared = schema.tags.fields.get(name);
      if (needed !== undefined && (declared === undefined || stricter(declared, needed) !== declared)) {
        const why = sourcesOf(governance, name).length > 0 ? `is derived from ${sourcesOf(governance, name).join(', ')}` : 'has the name of a tagged input field';
        throw new ConfigError(
          `${schema.file} field ${name}`,
          `output ${output} writes "${name}", which ${why} (${needed}), but ${schema.file} gives it ${declared === undefined ? 'no "pii" tag' : `the weaker tag "${declared}"`}`,
          `add "pii": "${needed}" to the field in ${schema.file}, or list it in the topology's governance.safe if it identifies no one (an aggregate over many subjects)`,
        );
      }
      if (declared !== undefined) fields.set(name, stricter(fields.get(name), declared));
    }
  }
  return { fields, subject };
}

/** The tag a field inherits: its own name's input tag and those of the fields it derives from. */
function lineageTag(field: string, input: TaggedSchema, known: ReadonlyMap<string, PiiTag>, governance: TopologyGovernance | undefined): PiiTag | undefined {
  let tag = input.tags.fields.get(field);
  for (const source of sourcesOf(governance, field)) {
    const inherited = input.tags.fields.get(source) ?? known.get(source);
    if (inherited !== undefined) tag = stricter(tag, inherited);
  }
  return tag;
}

/** The tags present among some fields, strictest first. */
export function tagsIn(fields: ReadonlyMap<string, PiiTag>): PiiTag[] {
  const present = new Set(fields.values());
  return PII_TAGS.filter((tag) => present.has(tag));
}
