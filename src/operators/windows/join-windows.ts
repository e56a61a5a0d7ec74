import { Observable } from 'rxjs';
import { unionOfAcks } from '../../core/ack.ts';
import { subscribePairs } from '../paired-batches.ts';
import type { Batch, StreamRecord } from '../../core/batch.ts';
import type { WindowResult } from './aggregate.ts';

/**
 * Left join of two window streams computed from the same input (for example a 5-minute hopping
 * and a 1-minute tumbling window that end together) on key and window end. Both streams emit one
 * batch per input batch, so batch i of one pairs with batch i of the other; windows that end
 * together close on the same watermark and so sit in the same pair.
 *
 * @example joinWindows(lastFiveMinutes, lastMinute, (five, one) => ({ ...five, count1m: one?.n ?? 0 }))
 */
export function joinWindows<L extends WindowResult, R extends WindowResult, O>(
  left: Observable<Batch<L>>,
  right: Observable<Batch<R>>,
  combine: (left: L, right: R | undefined) => O,
): Observable<Batch<O>> {
  return new Observable<Batch<O>>((subscriber) => {
    function emit(l: Batch<L>, r: Batch<R>): void {
      // By window end, then key: no key string built per window (a close has one or a few ends).
      const byEnd = new Map<number, Map<string, R>>();
      for (const record of r.records) {
        const end = record.value.windowEnd;
        let byKey = byEnd.get(end);
        if (byKey === undefined) byEnd.set(end, (byKey = new Map()));
        byKey.set(record.key, record.value);
      }
      const records: StreamRecord<O>[] = new Array(l.records.length);
      for (let i = 0; i < l.records.length; i++) {
        const record = l.records[i]!;
        const match = byEnd.get(record.value.windowEnd)?.get(record.key);
        records[i] = { value: combine(record.value, match), key: record.key, eventTime: record.eventTime, topic: record.topic, partition: record.partition, offset: record.offset };
      }
      l.side.timing?.note('joined', records.length);
      subscriber.next({ records, watermark: Math.min(l.watermark, r.watermark), acks: unionOfAcks(l.acks, r.acks), side: l.side });
    }

    return subscribePairs(left, right, subscriber, emit);
  });
}
