import type { MaskPlan } from './sink-plans.ts';

type AvroType = string | AvroType[] | { [key: string]: unknown };

/**
 * The Avro record schema as a destination stores it under a view's policies: dropped fields are
 * gone, hashed, tokenized and prefixed ones are strings (nullable where they were), generalized
 * numbers keep their type. A ClickHouse table is created from this, so its columns fit the rows.
 */
export function governedSchema(schema: object, plan: MaskPlan): object {
  const record = schema as { fields?: Array<{ name: string; type: AvroType; default?: unknown }> };
  if (!Array.isArray(record.fields)) return schema;
  const policies = new Map(plan.fields.map((f) => [f.name, f.policy]));
  const fields = record.fields.flatMap((field) => {
    const policy = policies.get(field.name);
    if (policy === undefined) return [field];
    if (policy.kind === 'drop') return [];
    if (policy.kind !== 'hash' && policy.kind !== 'token' && policy.kind !== 'prefix') return [field];
    const { default: _default, ...rest } = field;
    return [{ ...rest, type: nullable(field.type) ? ['null', 'string'] : 'string' }];
  });
  return { ...schema, fields };
}

function nullable(type: AvroType): boolean {
  return Array.isArray(type) && type.includes('null');
}
