import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avsc from 'avsc';
import type { Type } from 'avsc';
import { ConfigError, ConnectionError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { LocalSchemaRegistry } from './schema-registry.ts';
import type { SchemaRegistryClient } from './schema-resolver.ts';

/** The client's REST resources (mappersmith), for the calls its public API lacks: by-id fetch and compatibility. */
interface RegistryApi {
  Schema: { find(args: { id: number }): Promise<{ data(): { schema: string } }> };
}

/** Confluent answers `messages` (verbose), Apicurio's Confluent API `reason`. */
interface CompatibilityAnswer {
  is_compatible: boolean;
  messages?: string[];
  reason?: string;
}

/** A registry HTTP error as mappersmith throws it. */
interface HttpFailure {
  status?: number;
  message?: string;
}

/**
 * A Confluent-API Schema Registry (Confluent, or Apicurio's /apis/ccompat/v7) behind the
 * SchemaResolver interface, through @kafkajs/confluent-schema-registry. Decoding stays
 * synchronous: the source `prefetch`es the ids of a fetched batch (each fetched once, compiled
 * with the same avsc as local schemas, then cached), and `byId` answers from the cache. Output
 * schemas are checked against their subject's latest version before they are registered, so an
 * incompatible change fails the start (ConfigError naming subject and field), not the consumers.
 * Schema files still come from the schemas directory (the embedded registry.json's ids are not used).
 */
export class SchemaRegistryResolver implements SchemaRegistryClient {
  readonly description: string;
  private readonly types = new Map<number, Type>();
  private readonly fetching = new Map<number, Promise<void>>();
  private readonly client: SchemaRegistry;
  private readonly api: RegistryApi;

  constructor(
    readonly url: string,
    private readonly local: LocalSchemaRegistry,
    private readonly logger: Logger,
  ) {
    this.description = `schema registry ${url}`;
    this.client = new SchemaRegistry({ host: url, retry: { retries: 2 } });
    this.api = (this.client as unknown as { api: RegistryApi }).api;
  }

  byId(id: number): Type | undefined {
    return this.types.get(id);
  }

  async prefetch(ids: Iterable<number>): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const id of ids) {
      if (this.types.has(id)) continue;
      let fetching = this.fetching.get(id);
      if (!fetching) {
        fetching = this.fetch(id).finally(() => this.fetching.delete(id));
        this.fetching.set(id, fetching);
      }
      waits.push(fetching);
    }
    await Promise.all(waits);
  }

  /**
   * Checks the schema file against `subject`'s latest version (the registry's compatibility rule
   * decides), registers it (an identical schema keeps its id) and returns the id.
   */
  async registerOutput(subject: string, schemaFile: string): Promise<number> {
    const raw = this.local.raw(schemaFile);
    const schema = JSON.stringify(raw);
    const answer = await this.compatibility(subject, schema).catch((error: unknown) => {
      throw this.unreachable(`checking ${schemaFile} against ${subject}`, error);
    });
    if (answer && !answer.is_compatible) {
      const why = [...(answer.messages ?? []), ...(answer.reason ? [answer.reason] : [])].join('; ');
      const field = incompatibleField(why, raw as { fields?: Array<{ name: string }> });
      throw new ConfigError(
        `${subject}${field ? `.${field}` : ''}`,
        `${schemaFile} is not compatible with the latest version of subject ${subject}${field ? ` (field "${field}")` : ''}: ${why.slice(0, 500)}`,
        `give "${field ?? 'the new field'}" a default or keep its type, or register the change under a new subject (a new topic), or relax the subject's compatibility level`,
      );
    }
    try {
      const { id } = await this.client.register({ type: SchemaType.AVRO, schema }, { subject });
      this.types.set(id, this.local.schema(schemaFile));
      this.logger.info({ subject, id, schema: schemaFile, registry: this.url }, 'output schema registered');
      return id;
    } catch (error) {
      const failure = error as HttpFailure;
      if (failure.status === 409) throw new ConfigError(subject, `the registry refused ${schemaFile}: ${failure.message ?? ''}`, 'make the change compatible or relax the subject\'s compatibility level');
      throw this.unreachable(`registering ${schemaFile} under ${subject}`, error);
    }
  }

  /**
   * The registry's verdict on `schema` against the subject's latest version, with its reasons
   * (verbose; the client's own call asks for none); null when the subject has no version yet.
   */
  private async compatibility(subject: string, schema: string): Promise<CompatibilityAnswer | null> {
    const response = await fetch(`${this.url}/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema }),
    });
    if (response.status === 404) return null;
    if (!response.ok) throw new ConnectionError('Schema Registry', `compatibility check answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
    return (await response.json()) as CompatibilityAnswer;
  }

  private async fetch(id: number): Promise<void> {
    let text: string;
    try {
      text = (await this.api.Schema.find({ id })).data().schema;
    } catch (error) {
      // Unknown ids stay unknown: their records are dead-lettered (UNKNOWN_SCHEMA_ID).
      if ((error as HttpFailure).status === 404) return;
      throw this.unreachable(`fetching schema id ${id}`, error);
    }
    this.types.set(id, avsc.Type.forSchema(JSON.parse(text) as avsc.schema.AvroSchema));
  }

  private unreachable(what: string, error: unknown): ConnectionError {
    return new ConnectionError('Schema Registry', `${what} at ${this.url} failed: ${errorMessage(error)}`, error);
  }
}

/** The field a compatibility answer names: by name ("b at /fields/1", "field 'b'"), else by its index in `schema`. */
export function incompatibleField(why: string, schema: { fields?: Array<{ name: string }> }): string | undefined {
  const named = /(\w+) at \/fields\/\d+(?![\w/])/.exec(why) ?? /field ['"](\w+)['"]/i.exec(why);
  if (named) return named[1];
  const indexed = /\/fields\/(\d+)/.exec(why);
  return indexed ? schema.fields?.[Number(indexed[1])]?.name : undefined;
}
