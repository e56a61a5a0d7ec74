import { Observable, type OperatorFunction } from 'rxjs';
import type { Batch, StreamRecord } from '../core/batch.ts';
import { deadLetterUserError } from './guarded.ts';

/**
 * Sets each record's grouping key, used by windows and joins downstream. Keys are strings so
 * per-key state lives in one flat Map. A key function that throws dead-letters its record.
 *
 * @example payments.pipe(keyBy((p) => p.cardId))
 */
export function keyBy<T>(selectKey: (value: T) => string | number, options: { name?: string } = {}): OperatorFunction<Batch<T>, Batch<T>> {
  const step = options.name ?? 'keyBy';
  return (source) =>
    new Observable<Batch<T>>((subscriber) =>
      source.subscribe({
        next(batch) {
          const input = batch.records;
          const output: StreamRecord<T>[] = [];
          for (let i = 0; i < input.length; i++) {
            const record = input[i]!;
            try {
              const key = selectKey(record.value);
              if (key === undefined || key === null) throw new Error('key function returned no key');
              output.push({ value: record.value, key: String(key), eventTime: record.eventTime, topic: record.topic, partition: record.partition, offset: record.offset });
            } catch (error) {
              deadLetterUserError(batch, step, record, error);
            }
          }
          subscriber.next({ records: output, watermark: batch.watermark, acks: batch.acks, side: batch.side });
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}
