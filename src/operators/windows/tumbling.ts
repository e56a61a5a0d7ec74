import { map as rxMap, type OperatorFunction } from 'rxjs';
import type { Duration } from '../../core/duration.ts';
import type { Batch } from '../../core/batch.ts';
import { makeWindowSpec, type WindowOptions, type WindowedBatch } from './window-spec.ts';

/**
 * Fixed, non-overlapping event-time windows of `size`, aligned to the epoch. Follow it with
 * `aggregate(...)`. Options: `grace` (records still join before the first emission), `emit`
 * ('final', default: when the window closes; 'current': on every change) and `allowedLateness`
 * (after end + grace, records still update the window and re-emit it with the next `revision`).
 *
 * @example payments.pipe(keyBy((p) => p.cardId), tumbling('1m', { grace: '10s' }), aggregate({ n: count() }))
 * @example payments.pipe(keyBy((p) => p.cardId), tumbling('1m', { grace: '10s', allowedLateness: '5m' }), aggregate({ n: count() }))
 */
export function tumbling<T>(size: Duration, options: WindowOptions = {}): OperatorFunction<Batch<T>, WindowedBatch<T>> {
  const window = makeWindowSpec('tumbling', size, size, options);
  return rxMap((batch) => ({ records: batch.records, watermark: batch.watermark, acks: batch.acks, side: batch.side, window }));
}
