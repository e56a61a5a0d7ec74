import { ConfigError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SourceSpec } from '../sources/source.ts';
import { RedisCheckpointStore, type CheckpointCodec } from '../state/redis-checkpoint-store.ts';
import type { EngineConfig } from '../topology/config.ts';
import { redisTarget } from '../topology/connection-config.ts';
import { Checkpointer, type TaskStates } from './checkpointer.ts';
import type { EventTimeClock } from '../core/event-time-clock.ts';
import type { TransactionalOutput } from '../sinks/sink.ts';

export interface WindowStateOptions {
  config: EngineConfig;
  logger: Logger;
  metrics: Metrics;
  topology: string;
  groupId: string;
  spec: SourceSpec<unknown>;
  clock: EventTimeClock;
  tasks: TaskStates;
  /** Outputs committed with the checkpoints (exactly-once Kafka topic sinks). */
  outputs?: readonly TransactionalOutput[];
  /** Data protection: how checkpoints are sealed (absent: stored as serialized). */
  codec?: () => Promise<CheckpointCodec>;
}

/**
 * Window state in memory (TRIBUTARY_WINDOW_STATE=memory, the default): no checkpointer. Or
 * checkpointed to Redis ('redis'), one checkpoint per partition: each partition's task is
 * restored from its checkpoint when the partition is assigned (runtime/partition-tasks.ts).
 */
export async function openWindowState(options: WindowStateOptions): Promise<Checkpointer | null> {
  const { config, logger, metrics, topology, groupId, spec, clock, tasks } = options;
  if (config.windowState !== 'redis') {
    const output = options.outputs?.[0];
    if (output) throw new ConfigError('TRIBUTARY_WINDOW_STATE', `${output.name} delivers exactly-once, which commits its records with the window-state checkpoints, and window state is in memory`, "set TRIBUTARY_WINDOW_STATE=redis (and REDIS_URL), or use delivery: 'at-least-once'");
    return null;
  }
  if (!spec.resumable) {
    throw new ConfigError('TRIBUTARY_WINDOW_STATE', `durable window state needs a source with offsets to resume from (Kafka), and ${spec.description} has none`, 'set KAFKA_BROKERS to read from Kafka, or unset TRIBUTARY_WINDOW_STATE');
  }
  const codec = options.codec ? await options.codec() : undefined;
  const store = await RedisCheckpointStore.connect(redisTarget(config)!, { topology, groupId, logger, ...(codec ? { codec } : {}) });
  logger.info({ store: store.description }, 'durable window state: each assigned partition resumes from its checkpoint');
  return new Checkpointer(store, tasks, clock, { topology, intervalMs: config.checkpointIntervalMs, logger, metrics, outputs: options.outputs });
}
