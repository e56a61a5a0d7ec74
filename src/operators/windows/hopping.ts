import { map as rxMap, type OperatorFunction } from 'rxjs';
import type { Duration } from '../../core/duration.ts';
import type { Batch } from '../../core/batch.ts';
import { makeWindowSpec, type WindowOptions, type WindowedBatch } from './window-spec.ts';

/**
 * Overlapping event-time windows of `size` starting every `hop` (a 5-minute window every
 * minute), aligned to the epoch. Each event belongs to size/hop windows. Follow it with
 * `aggregate(...)`. Options as for `tumbling`: `grace`, `emit` ('final' | 'current') and
 * `allowedLateness`; a late update re-emits only those of the record's windows still open to it.
 *
 * @example payments.pipe(keyBy((p) => p.cardId), hopping('5m', '1m', { emit: 'current' }), aggregate({ n: count() }))
 * @example payments.pipe(keyBy((p) => p.cardId), hopping('5m', '1m', { grace: '10s' }), aggregate({ total: sum((p) => p.amount) }))
 */
export function hopping<T>(size: Duration, hop: Duration, options: WindowOptions = {}): OperatorFunction<Batch<T>, WindowedBatch<T>> {
  const window = makeWindowSpec('hopping', size, hop, options);
  return rxMap((batch) => ({ records: batch.records, watermark: batch.watermark, acks: batch.acks, side: batch.side, window }));
}
