import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { ConfigError } from '../core/errors.ts';
import type { AnyTopology } from './define-topology.ts';

/** Imports a topology module (its default export, made with defineTopology). */
export async function loadTopology(file: string): Promise<AnyTopology> {
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) throw new ConfigError('topology', `file ${absolute} does not exist`, 'pass a file from topologies/, e.g. topologies/card-fraud.ts');
  const module = (await import(pathToFileURL(absolute).href)) as { default?: AnyTopology };
  const topology = module.default;
  if (!topology || typeof topology.pipeline !== 'function') {
    throw new ConfigError('topology', `${file} has no default export made with defineTopology()`, 'add `export default defineTopology({ ... })`');
  }
  return topology;
}
