import { map as rxMap, type OperatorFunction } from 'rxjs';
import type { Duration } from '../../core/duration.ts';
import type { Batch } from '../../core/batch.ts';
import { makeWindowSpec, type WindowOptions, type WindowedBatch } from './window-spec.ts';

/**
 * Fixed, non-overlapping event-time windows of `size`, aligned to the epoch. Follow it with
 * `aggregate(...)`.
 *
 * @example payments.pipe(keyBy((p) => p.cardId), tumbling('1m', { grace: '10s' }), aggregate({ n: count() }))
 */
export function tumbling<T>(size: Duration, options: WindowOptions = {}): OperatorFunction<Batch<T>, WindowedBatch<T>> {
  const window = makeWindowSpec('tumbling', size, size, options);
  return rxMap((batch) => ({ records: batch.records, watermark: batch.watermark, acks: batch.acks, side: batch.side, window }));
}
