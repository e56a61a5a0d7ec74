import { ConfigError } from '../core/errors.ts';
import { createAvroDecoder } from './avro.ts';
import type { Decoder } from './decoder.ts';
import { createJsonDecoder } from './json.ts';
import type { NamedSchemaSource, SchemaResolver } from './schema-resolver.ts';

export type DecoderFormat = 'avro' | 'avro-confluent' | 'json';

/** How a source's record values are encoded, as written in a topology's source config. */
export interface DecoderSpec {
  format: DecoderFormat;
  /** Schema file ('payment.avsc'): required for 'avro'; for 'avro-confluent' only checked to exist. */
  schema?: string;
  /** Needed by the Avro formats. */
  registry?: SchemaResolver & NamedSchemaSource;
}

const FORMATS: readonly string[] = ['avro', 'avro-confluent', 'json'] satisfies DecoderFormat[];

/** The decoder a source spec asks for; throws ConfigError naming the `source.*` field at fault. */
export function createDecoder<T>(spec: DecoderSpec): Decoder<T> {
  if (!FORMATS.includes(spec.format)) {
    throw new ConfigError('source.format', `unknown format "${String(spec.format)}"`, `use one of ${FORMATS.map((f) => `"${f}"`).join(', ')}`);
  }
  if (spec.format === 'json') return createJsonDecoder() as Decoder<T>;
  const registry = spec.registry;
  if (registry === undefined) {
    throw new ConfigError('source.registry', `format "${spec.format}" needs a schema registry`, 'load one with LocalSchemaRegistry.fromDirectory("schemas")');
  }
  const schema = spec.schema;
  if (schema !== undefined && !registry.has(schema)) {
    throw new ConfigError('source.schema', `no schema file "${schema}" in the schema registry`, 'name an .avsc file from the schemas directory, e.g. "payment.avsc"');
  }
  if (spec.format === 'avro-confluent') return createAvroDecoder<T>({ wire: 'confluent', registry });
  if (schema === undefined) {
    throw new ConfigError(
      'source.schema',
      'format "avro" (bare Avro binary, no header) needs a schema file',
      'set source.schema to a file in schemas/, e.g. "payment.avsc", or use format "avro-confluent" if producers write the Confluent header',
    );
  }
  return createAvroDecoder<T>({ wire: 'binary', registry, schema });
}
