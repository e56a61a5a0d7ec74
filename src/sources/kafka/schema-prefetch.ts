import { errorMessage } from '../../core/errors.ts';
import type { FetchedBatch } from '../../kafka/kafka-client.ts';
import type { SchemaRegistryClient } from '../../serde/schema-resolver.ts';
import type { SourceEnvironment } from '../source.ts';

/**
 * Fetches the writer schemas of Confluent-framed records whose ids are not cached, so decoding
 * stays synchronous. False when the registry could not answer (the batch is fetched again later).
 */
export async function prefetchSchemas(registry: SchemaRegistryClient, messages: FetchedBatch['messages'], logger: SourceEnvironment['logger']): Promise<boolean> {
  const ids = new Set<number>();
  for (const { value } of messages) if (value !== null && value.length >= 5 && value[0] === 0) ids.add(value.readUInt32BE(1));
  let missing = false;
  for (const id of ids) if (registry.byId(id) === undefined) missing = true;
  if (!missing) return true;
  try {
    await registry.prefetch(ids);
    return true;
  } catch (error) {
    logger.warn({ err: errorMessage(error), registry: registry.description }, 'schema registry unavailable; the batch is fetched again');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    return false;
  }
}
