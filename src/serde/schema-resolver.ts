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
