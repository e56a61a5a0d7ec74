import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, errorMessage } from '../core/errors.ts';
import type { TaggedSchema } from './lineage.ts';
import { NO_TAGS, schemaTags } from './tags.ts';

/** No input schema: nothing is tagged at the source. */
export const UNTAGGED_INPUT: TaggedSchema = { file: '(no input schema)', tags: NO_TAGS, fieldNames: [] };

/**
 * Reads a schema file's tags and field names, once per file (at start, so synchronously): a
 * missing or broken file fails the start with a ConfigError naming it.
 */
export function schemaReader(schemasDir: string): (file: string) => TaggedSchema {
  const cache = new Map<string, TaggedSchema>();
  return (file) => {
    let tagged = cache.get(file);
    if (tagged === undefined) {
      const full = path.join(schemasDir, file);
      let schema: { fields?: Array<{ name?: unknown }> };
      try {
        schema = JSON.parse(readFileSync(full, 'utf8')) as typeof schema;
      } catch (error) {
        throw new ConfigError(`schema ${file}`, `cannot read ${full} as JSON (${errorMessage(error)})`, 'name an .avsc file in the schemas folder (TRIBUTARY_SCHEMAS_DIR)');
      }
      const fieldNames = Array.isArray(schema.fields) ? schema.fields.flatMap((f) => (typeof f?.name === 'string' ? [f.name] : [])) : [];
      tagged = { file, tags: schemaTags(schema, file), fieldNames };
      cache.set(file, tagged);
    }
    return tagged;
  };
}
