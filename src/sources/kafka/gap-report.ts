import type { Logger } from '../../observability/logger.ts';
import { noAudit } from '../../audit/audit-trail.ts';
import type { SourceEnvironment } from '../source.ts';
import { KAFKAJS_OFFSET_RESET_MESSAGE } from './gap-guard.ts';
import { describeGap, gapSize, type OffsetGap, type OffsetGapPolicy } from './offset-gaps.ts';

/**
 * Makes lost records loud, whatever the policy: one error log line per gap naming topic,
 * partition, offset range and count; tributary_records_lost_total{topic,partition,reason}; and
 * an audit entry per gap (`kafka.offset_gap`, when the engine has a trail).
 */
export function reportGaps(gaps: readonly OffsetGap[], policy: OffsetGapPolicy, environment: SourceEnvironment): void {
  const { logger, metrics, topology } = environment;
  const audit = environment.audit ?? noAudit;
  for (const gap of gaps) {
    const count = gapSize(gap);
    const fields = { topic: gap.topic, partition: gap.partition, from: gap.from.toString(), to: (gap.to - 1n).toString(), count: Number(count), reason: gap.reason, position: gap.source, policy };
    logger.error(fields, `records lost: ${describeGap(gap)}; onOffsetGap '${policy}'${policy === 'fail' ? ': stopping' : `: continuing at offset ${gap.resumeAt}`}`);
    metrics.recordsLost.inc({ topology, topic: gap.topic, partition: String(gap.partition), reason: gap.reason }, Number(count));
    void audit
      .record({
        action: 'kafka.offset_gap',
        principal: `engine:${topology}`,
        target: `${gap.topic}:${gap.partition}`,
        outcome: policy === 'fail' ? 'failed' : 'ok',
        reason: describeGap(gap),
        details: { ...fields, resumeAt: policy === 'fail' ? null : gap.resumeAt.toString() },
      })
      .catch((error: unknown) => logger.warn({ err: String(error) }, 'recording the offset gap in the audit trail failed'));
  }
}

/**
 * A logger for the Kafka client that also calls `onReset('topic:partition')` when kafkajs
 * reports that it moved an out-of-range fetch offset of `topic` (it logs this and nothing else).
 * Every other call goes to `logger` unchanged.
 */
export function watchOffsetResets(logger: Logger, topic: string, onReset: (partitionKey: string) => void): Logger {
  const watching = Object.create(logger) as Logger;
  watching.error = ((fields: unknown, message?: string, ...rest: unknown[]) => {
    if (message === KAFKAJS_OFFSET_RESET_MESSAGE && typeof fields === 'object' && fields !== null) {
      const { topic: resetTopic, partition } = fields as { topic?: unknown; partition?: unknown };
      if (resetTopic === topic && typeof partition === 'number') onReset(`${topic}:${partition}`);
    }
    (logger.error as (...args: unknown[]) => void).call(logger, fields, message, ...rest);
  }) as Logger['error'];
  return watching;
}
