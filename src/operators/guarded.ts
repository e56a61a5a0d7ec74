import type { Batch, StreamRecord } from '../core/batch.ts';
import { errorMessage } from '../core/errors.ts';

/**
 * Records a user function failure as a dead letter instead of letting the exception end the
 * stream: one bad record must never stop the pipeline.
 */
export function deadLetterUserError(batch: Batch<unknown>, step: string, record: StreamRecord<unknown>, error: unknown): void {
  batch.side.deadLetters.push({
    step,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    error: errorMessage(error),
    raw: null,
    key: record.key,
    timestamp: record.eventTime,
  });
}
