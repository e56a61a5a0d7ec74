import { errorMessage } from '../../core/errors.ts';
import type { Admin } from '../../kafka/kafka-client.ts';
import type { SourceContext, SourceEnvironment } from '../source.ts';
import { GapGuard } from './gap-guard.ts';
import { reportGaps } from './gap-report.ts';
import type { OffsetGapPolicy } from './offset-gaps.ts';

/** The operator's override of every topic's policy, named in the error of 'fail'. */
const OVERRIDE_VARIABLE = 'TRIBUTARY_ON_OFFSET_GAP';

/**
 * A Kafka source's gap guard: the operator's policy (TRIBUTARY_ON_OFFSET_GAP), else the topic's,
 * else 'fail' with durable window state and 'earliest' without; positions from the source and
 * checkpoints from the engine; gaps reported (log, metric, audit) and, for 'fail', the engine stopped.
 */
export function createGapGuard<T>(options: {
  topic: string;
  policy: OffsetGapPolicy | undefined;
  environment: SourceEnvironment;
  context: SourceContext<T>;
  admin: () => Promise<Admin>;
  /** The source's next offset per partition ('topic:partition'), forgotten when a gap moves it. */
  nextOffset: Map<string, bigint>;
}): GapGuard {
  const { environment, context, nextOffset } = options;
  const policy = environment.onOffsetGap ?? options.policy ?? (environment.durableState ? 'fail' : 'earliest');
  return new GapGuard({
    topic: options.topic,
    groupId: environment.groupId,
    policy,
    overrideVariable: OVERRIDE_VARIABLE,
    admin: options.admin,
    logger: environment.logger,
    consumerPosition: (key) => nextOffset.get(key),
    checkpointOffset: context.checkpointOffset,
    discardCheckpoint: async (key) => {
      nextOffset.delete(key);
      await context.discardCheckpoint?.(key);
    },
    report: (gaps, used) => reportGaps(gaps, used, environment),
    fail: (error) => context.fail(error),
  });
}

/**
 * Stopped by an offset gap: kafkajs committed its default offset over the group's while
 * fetching; once the source's member has left (so the client commits nothing more) the group's
 * offsets are put back, and every restart finds the same gap until an operator accepts it.
 */
export async function restoreGapOffsets(guard: GapGuard | null, admin: Admin | null, environment: SourceEnvironment): Promise<void> {
  const offsets = guard?.offsetsToRestore ?? [];
  if (offsets.length === 0 || admin === null) return;
  try {
    await admin.setCommittedOffsets(environment.groupId, offsets);
  } catch (error) {
    environment.logger.warn({ err: errorMessage(error), offsets }, 'putting back the committed offsets of the gap failed (another member still in the group?)');
  }
}
