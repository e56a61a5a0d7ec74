import type { EventTimeClock } from '../core/event-time-clock.ts';
import type { PipelineTracer } from '../observability/tracing/pipeline-tracer.ts';
import type { RunningPushServer } from '../push/uws-push-server.ts';
import type { Source } from '../sources/source.ts';
import type { BatchRouter } from './batch-router.ts';
import type { Checkpointer } from './checkpointer.ts';
import type { IdleTicks } from './idle-ticks.ts';
import type { RunningModels } from './models.ts';
import type { PartitionTasks } from './partition-tasks.ts';
import type { StatsPublisher } from './stats-publisher.ts';
import type { RunningTables } from './tables.ts';

/**
 * What start-up opens, filled in as it goes: a start that fails half-way leaves here exactly what
 * did open, so stop() closes that and nothing else.
 */
export interface EngineParts {
  clock?: EventTimeClock;
  source?: Source<unknown>;
  tasks?: PartitionTasks;
  router?: BatchRouter;
  /** Durable window state only. */
  checkpointer: Checkpointer | null;
  idleTicks: IdleTicks | null;
  tables: RunningTables | null;
  models: RunningModels | null;
  server: RunningPushServer | null;
  statsPublisher: StatsPublisher | null;
  /** Tracing on (config.tracing): the OpenTelemetry SDK behind the port; undefined costs a check per batch. */
  tracer: PipelineTracer | undefined;
}

export function emptyEngineParts(): EngineParts {
  return { checkpointer: null, idleTicks: null, tables: null, models: null, server: null, statsPublisher: null, tracer: undefined };
}
