import type { Command } from 'commander';
import { pino } from 'pino';
import { createLogger } from '../observability/logger.ts';
import { scoreBatch, type ScoreBatchResult } from '../batch/batch-scoring.ts';
import { ConfigError } from '../core/errors.ts';
import { servingPlan } from '../registry/lifecycle.ts';
import type { OnnxModel } from '../scoring/onnx-model.ts';
import { loadRegisteredModel } from '../scoring/registered-model.ts';
import { RedisKeyValueStore } from '../state/redis-store.ts';
import { loadConfig } from '../topology/config.ts';
import { redisTarget } from '../topology/connection-config.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';
import { withLifecycle } from '../training/lifecycle-context.ts';
import { parseWholeOption } from './number-option.ts';
import { auditedRun } from '../audit/audited-run.ts';
import { withCliAudit } from './cli-audit.ts';

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
  return withLifecycle(
    file,
    async ({ topology, spec: lifecycle, client, registry }) => withCliAudit(client, (audit) => auditedRun(audit, { kind: 'score-batch', target: lifecycle.model, summary: (r: ScoreBatchResult) => ({ runId: r.runId, entities: r.entities, skipped: r.skipped, seconds: r.seconds }) }, async () => {
      // JSON logs on stderr: stdout holds only the summary.
      const logger = createLogger(`tributary:${topology.name}:score-batch`, process.env.LOG_LEVEL ?? 'info', pino.destination(2));
      const redis = redisTarget(config);
      const store = redis ? await RedisKeyValueStore.connect(redis, { prefix: `tributary:${topology.name}:`, logger }) : undefined;
      let model: OnnxModel | undefined;
      try {
        const { live } = servingPlan(await registry.list(lifecycle.model));
        if (!live) {
          throw new ConfigError('model', `${lifecycle.model} has no live version in registry table ${lifecycle.registryTable ?? 'model_registry'}`, `register a trained model and promote it (\`tributary models promote ${file} <version>\`), or start the engine once so that it makes the shipped model live`);
        }
        model = await loadRegisteredModel(live);
        const result = await scoreBatch({
          client,
          store,
          lifecycle,
          model,
          registered: live,
          now: Date.now(),
          pageEntities: parseWholeOption(options.page ?? '50000', '--page', 'a positive whole number', 'e.g. --page 50000'),
          chunkRows: parseWholeOption(options.chunk ?? '4096', '--chunk', 'a positive whole number', 'e.g. --chunk 4096'),
          logger,
          onProgress: (p) => process.stderr.write(`score-batch: page ${p.page}/${p.pages}, ${p.entities} entities, ${p.seconds.toFixed(1)} s\n`),
        });
        printSummary(result, lifecycle, `${live.model}@${live.version}`, store ? `tributary:${topology.name}:` : undefined);
        return result;
      } finally {
        await model?.close();
        await store?.close();
      }
    }), config),
    config,
  );
}

function printSummary(result: ScoreBatchResult, lifecycle: LifecycleSpec, model: string, storePrefix: string | undefined): void {
  const rate = result.seconds > 0 ? Math.round(result.entities / result.seconds) : result.entities;
  const written = storePrefix ? `${lifecycle.batchPredictionsTable} and Redis (${storePrefix}batch-prediction:<${lifecycle.featureSet.entity}>)` : `${lifecycle.batchPredictionsTable} (REDIS_URL not set: no Redis copy)`;
  process.stdout.write(
    `Scored ${result.entities} ${lifecycle.featureSet.entity} entities with ${model} on ${lifecycle.featureSet.id} in ${result.seconds.toFixed(2)} s (${rate}/s).\n` +
      `Run ${result.runId}, scoredAt ${new Date(result.scoredAt).toISOString()}; written to ${written}.\n` +
      (result.skipped > 0 ? `Skipped ${result.skipped} entities whose features or score were not finite.\n` : ''),
  );
  if (result.entities === 0) process.stderr.write(`score-batch: no feature rows of version ${lifecycle.featureSet.version} in ${lifecycle.featuresTable}\n`);
}
