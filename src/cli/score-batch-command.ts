import type { Command } from 'commander';
import { pino } from 'pino';
import { scoreBatch, type ScoreBatchResult } from '../batch/batch-scoring.ts';
import { ConfigError } from '../core/errors.ts';
import { clickhouseModelRegistry } from '../registry/clickhouse-model-registry.ts';
import { servingPlan } from '../registry/lifecycle.ts';
import { modelFilePath } from '../registry/model-files.ts';
import { OnnxModel } from '../scoring/onnx-model.ts';
import { connectClickHouse } from '../sinks/clickhouse/connection.ts';
import { RedisKeyValueStore } from '../state/redis-store.ts';
import { loadConfig } from '../topology/config.ts';
import { loadTopology } from './load-topology.ts';

export interface ScoreBatchCommandOptions {
  /** Entities per ClickHouse read and insert. */
  page?: string;
  /** Rows per model call. */
  chunk?: string;
}

/** Adds `tributary score-batch <topology>` to `program`. */
export function registerScoreBatchCommand(program: Command): Command {
  return program
    .command('score-batch')
    .argument('<topology>', 'topology module whose `lifecycle` names the feature table, model and batch predictions table')
    .description("score every entity's latest feature row with the live model; write one prediction per entity to ClickHouse (and Redis when REDIS_URL is set), the engine's fallback when the model fails")
    .option('--page <entities>', 'entities per ClickHouse read and insert', '50000')
    .option('--chunk <rows>', 'rows per model call', '4096')
    .action(async (topology: string, options: ScoreBatchCommandOptions) => {
      await scoreBatchCommand(topology, options);
    });
}

/**
 * Loads the topology, resolves the live model from the registry (the same version the engine
 * serves), scores the whole population and prints a summary. Logs go to stderr.
 */
export async function scoreBatchCommand(file: string, options: ScoreBatchCommandOptions = {}): Promise<ScoreBatchResult> {
  const config = loadConfig();
  const topology = await loadTopology(file);
  const lifecycle = topology.lifecycle;
  if (lifecycle === undefined) {
    throw new ConfigError('lifecycle', `topology ${topology.name} (${file}) declares no lifecycle`, 'add lifecycle: { featureSet, model, featuresTable, batchPredictionsTable, ... } to its defineTopology() (see src/topology/lifecycle-spec.ts)');
  }
  // JSON logs on stderr: stdout holds only the summary.
  const logger = pino({ name: `tributary:${topology.name}:score-batch`, level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
  const client = await connectClickHouse({ url: config.clickhouseUrl, dataDir: config.clickhouseDataDir, logger });
  const store = config.redisUrl ? await RedisKeyValueStore.connect(config.redisUrl, { prefix: `tributary:${topology.name}:`, logger }).catch(async (error) => {
    await client.close();
    throw error;
  }) : undefined;
  let model: OnnxModel | undefined;
  try {
    const registryTable = lifecycle.registryTable ?? 'model_registry';
    const registry = clickhouseModelRegistry(client, { table: registryTable });
    await registry.open();
    const { live } = servingPlan(await registry.list(lifecycle.model));
    await registry.close();
    if (!live) {
      throw new ConfigError('model', `${lifecycle.model} has no live version in registry table ${registryTable}`, `register a trained model and promote it (\`tributary models promote ${file} <version>\`), or start the engine once so that it makes the shipped model live`);
    }
    const path = modelFilePath(live.file);
    model = await OnnxModel.load(path, { name: live.model });
    if (model.version !== live.version) {
      throw new ConfigError('model', `${path} has version ${model.version}, but the registry's live ${live.model} is ${live.version}: the file changed since it was registered`, 'restore the registered file, or register the new one and promote it');
    }
    const started = Date.now();
    const result = await scoreBatch({
      client,
      store,
      lifecycle,
      model,
      registered: live,
      now: started,
      pageEntities: whole(options.page ?? '50000', '--page'),
      chunkRows: whole(options.chunk ?? '4096', '--chunk'),
      logger,
      onProgress: (p) => process.stderr.write(`score-batch: page ${p.page}/${p.pages}, ${p.entities} entities, ${p.seconds.toFixed(1)} s\n`),
    });
    const rate = result.seconds > 0 ? Math.round(result.entities / result.seconds) : result.entities;
    const written = store ? `${lifecycle.batchPredictionsTable} and Redis (tributary:${topology.name}:batch-prediction:<${lifecycle.featureSet.entity}>)` : `${lifecycle.batchPredictionsTable} (REDIS_URL not set: no Redis copy)`;
    process.stdout.write(
      `Scored ${result.entities} ${lifecycle.featureSet.entity} entities with ${live.model}@${live.version} on ${lifecycle.featureSet.id} in ${result.seconds.toFixed(2)} s (${rate}/s).\n` +
        `Run ${result.runId}, scoredAt ${new Date(result.scoredAt).toISOString()}; written to ${written}.\n` +
        (result.skipped > 0 ? `Skipped ${result.skipped} entities whose features or score were not finite.\n` : ''),
    );
    if (result.entities === 0) process.stderr.write(`score-batch: no feature rows of version ${lifecycle.featureSet.version} in ${lifecycle.featuresTable}\n`);
    return result;
  } finally {
    await model?.close();
    await store?.close();
    await client.close();
  }
}

function whole(text: string, option: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(option, `"${text}" is not a positive whole number`, `e.g. ${option} 10000`);
  return value;
}
