import { ConfigError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SourceSpec } from '../sources/source.ts';
import { RedisCheckpointStore } from '../state/redis-checkpoint-store.ts';
import { StateRegistry } from '../state/step-state.ts';
import type { EngineConfig } from '../topology/config.ts';
import { Checkpointer } from './checkpointer.ts';
import type { EventTimeClock } from './event-time-clock.ts';

export interface WindowStateOptions {
  config: EngineConfig;
  logger: Logger;
  metrics: Metrics;
  topology: string;
  groupId: string;
  spec: SourceSpec<unknown>;
  clock: EventTimeClock;
}

/**
 * Window state in memory (TRIBUTARY_WINDOW_STATE=memory, the default), or checkpointed to Redis
 * ('redis'): then the latest checkpoint, if any, is loaded, the clock restored from it, and each
 * step claims its state on its first batch; the source resumes after the checkpoint's offsets.
 */
export async function openWindowState(options: WindowStateOptions): Promise<{ registry: StateRegistry; checkpointer: Checkpointer | null }> {
  const { config, logger, metrics, topology, groupId, spec, clock } = options;
  const limits = { maxOpenWindows: config.maxOpenWindows, onOpenWindows: (step: string, count: number) => metrics.openWindows.set({ topology, step }, count), runtime: { topology, metrics, logger } };
  if (config.windowState !== 'redis') return { registry: new StateRegistry({ durable: false, ...limits }), checkpointer: null };
  if (!spec.resumable) {
    throw new ConfigError('TRIBUTARY_WINDOW_STATE', `durable window state needs a source with offsets to resume from (Kafka), and ${spec.description} has none`, 'set KAFKA_BROKERS to read from Kafka, or unset TRIBUTARY_WINDOW_STATE');
  }
  const store = await RedisCheckpointStore.connect(config.redisUrl!, { topology, groupId, logger });
  const checkpoint = await store.load().catch(async (error) => {
    await store.close();
    throw error;
  });
  const registry = new StateRegistry({ durable: true, restored: checkpoint?.steps, ...limits });
  if (checkpoint) clock.restore(checkpoint.clock);
  const checkpointer = new Checkpointer(store, registry, clock, { topology, intervalMs: config.checkpointIntervalMs, logger, metrics }, checkpoint);
  if (checkpoint) {
    logger.info({ store: store.description, savedAt: new Date(checkpoint.savedAt).toISOString(), offsets: Object.fromEntries(checkpoint.offsets), steps: [...checkpoint.steps.keys()] }, 'resuming window state from checkpoint');
  } else {
    logger.info({ store: store.description }, 'durable window state: no checkpoint yet, starting empty');
  }
  return { registry, checkpointer };
}
