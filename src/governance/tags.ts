import { ConfigError } from '../core/errors.ts';

/**
 * What a field holds, declared in the Avro schema as a field attribute (`"pii": "direct"`):
 * - direct: identifies a person on its own (a card number, an account id);
 * - quasi: identifies a person combined with other fields (a merchant, a country, a postcode);
 * - sensitive: says something about a person worth protecting (an amount, a score).
 */
export const PII_TAGS = ['direct', 'quasi', 'sensitive'] as const;
export type PiiTag = (typeof PII_TAGS)[number];

/** The tags of one schema: per top-level field, and the record's subject field. */
export interface SchemaTags {
  /** Tagged top-level fields (untagged ones are absent). */
  readonly fields: ReadonlyMap<string, PiiTag>;
  /**
   * The field naming the person a record is about (`"subject": "cardId"` on the record): per
   * subject, tokens are encrypted under their own key, which erasure destroys.
   */
  readonly subject: string | undefined;
}

export const NO_TAGS: SchemaTags = { fields: new Map(), subject: undefined };

/**
 * Reads the `pii` attributes of a record schema's top-level fields and its `subject` attribute.
 * An unknown tag, or a subject that names no field of the record, fails with a ConfigError
 * naming the schema and the field.
 */
export function schemaTags(schema: unknown, file: string): SchemaTags {
  const record = schema as { type?: unknown; fields?: unknown; subject?: unknown };
  if (record === null || typeof record !== 'object' || record.type !== 'record' || !Array.isArray(record.fields)) return NO_TAGS;
  const fields = new Map<string, PiiTag>();
  const names = new Set<string>();
  for (const field of record.fields as Array<{ name?: unknown; pii?: unknown }>) {
    if (typeof field?.name !== 'string') continue;
    names.add(field.name);
    if (field.pii === undefined) continue;
    if (!PII_TAGS.includes(field.pii as PiiTag)) {
      throw new ConfigError(`${file} field ${field.name} pii`, `${JSON.stringify(field.pii)} is not a tag`, `use "pii": "direct" (identifies a person), "quasi" (identifies in combination) or "sensitive" (amounts, scores)`);
    }
    fields.set(field.name, field.pii as PiiTag);
  }
  const subject = record.subject;
  if (subject !== undefined && (typeof subject !== 'string' || !names.has(subject))) {
    throw new ConfigError(`${file} subject`, `${JSON.stringify(subject)} names no field of the record`, 'set "subject" to the field that identifies the person, e.g. "subject": "cardId"');
  }
  return { fields, subject: subject as string | undefined };
}

/** Tags of several schemas by field name; a field tagged differently keeps the stricter tag. */
export function mergeTags(...all: SchemaTags[]): Map<string, PiiTag> {
  const merged = new Map<string, PiiTag>();
  for (const tags of all) for (const [field, tag] of tags.fields) merged.set(field, stricter(merged.get(field), tag));
  return merged;
}

/** direct over quasi over sensitive: the tag whose policies protect most. */
export function stricter(a: PiiTag | undefined, b: PiiTag): PiiTag {
  if (a === undefined) return b;
  return PII_TAGS.indexOf(a) <= PII_TAGS.indexOf(b) ? a : b;
}
