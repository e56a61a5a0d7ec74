import type { Type } from 'avsc';

/**
 * Finds the writer schema of a Confluent-framed record by its id. The local registry implements it
 * from schemas/registry.json; a Confluent Schema Registry client can replace it.
 */
export interface SchemaResolver {
  /** The compiled schema for an id, or undefined when the id is unknown. */
  byId(id: number): Type | undefined;
}

/** Finds schemas by the names topologies use in their config (a file name such as 'payment.avsc'). */
export interface NamedSchemaSource {
  has(fileName: string): boolean;
  /** The compiled schema; throws ConfigError for an unknown file. */
  schema(fileName: string): Type;
  /** The id written in Confluent headers, by file name or record full name; throws ConfigError when none. */
  idOf(fileOrFullName: string): number;
}

/** A remote Schema Registry: ids resolved over its API (prefetched, then cached) and output schemas registered. */
export interface SchemaRegistryClient extends SchemaResolver {
  readonly description: string;
  /** Fetches the schemas of the ids not cached yet, once each; unknown ids stay unknown. */
  prefetch(ids: Iterable<number>): Promise<void>;
  /**
   * Checks the schema file against `subject`'s latest version and registers it; resolves with its
   * id. Rejects with a ConfigError naming the subject and the field when it is incompatible.
   */
  registerOutput(subject: string, schemaFile: string): Promise<number>;
}
