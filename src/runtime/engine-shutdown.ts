import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { BatchQueue } from './batch-queue.ts';
import type { EngineAudit } from './engine-audit.ts';
import type { EngineParts } from './engine-parts.ts';
import type { RuntimeEnvironment } from './environment.ts';
import type { SinkSet } from './sink-set.ts';

/** The engine as shutdown sees it; `parts` holds only what start-up got to open. */
export interface ShutdownHost {
  logger: Logger;
  audit: EngineAudit;
  environment: RuntimeEnvironment;
  sinks: SinkSet;
  queue: BatchQueue;
  parts: EngineParts;
  /** The process loop as it is when awaited (it starts late in start-up). */
  processLoop: () => Promise<void>;
  /** Records the step in progress, for a shutdown that overruns its deadline. */
  phase: (phase: string) => void;
}

/**
 * Stops fetching, processes what was already fetched, flushes every sink, commits the offsets
 * they acknowledged and closes connections, in that order: a commit before the flush could
 * commit records no sink holds.
 */
export async function shutDownEngine(host: ShutdownHost): Promise<void> {
  const { logger, audit, environment, sinks, queue, parts, phase } = host;
  phase('stopping the source');
  await parts.source?.stop().catch((error) => logger.warn({ err: errorMessage(error) }, 'source stop failed'));
  queue.close();
  phase('processing the records already fetched');
  await host.processLoop();
  // Durable state: a last capture, saved by the final commit once the sinks are flushed.
  phase('capturing the last checkpoint (waiting for scoring)');
  await parts.checkpointer?.capture().catch((error) => logger.error({ err: errorMessage(error) }, 'final checkpoint capture failed'));
  phase('waiting for asynchronous steps (scoring)');
  await parts.tasks?.complete();
  phase('flushing sinks');
  await sinks.flush().catch((error) => logger.error({ err: errorMessage(error) }, 'final sink flush failed'));
  phase('committing offsets');
  await parts.source?.commit();
  phase('closing connections');
  await parts.source?.close().catch(() => {});
  await parts.tables?.close().catch(() => {});
  await parts.models?.close();
  await parts.checkpointer?.close().catch(() => {});
  await sinks.close().catch(() => {});
  await parts.server?.close(); // its last authentication-failure summaries go to the trail first
  await audit.stopped({ processedRecords: parts.router?.processedRecords ?? 0 });
  await parts.tracer?.shutdown().catch((error) => logger.warn({ err: errorMessage(error) }, 'exporting the last spans failed'));
  await environment.close();
}
