import { Observable, type OperatorFunction } from 'rxjs';
import type { Batch, StreamRecord } from '../core/batch.ts';
import { deadLetterUserError } from './guarded.ts';

/**
 * Keeps the records whose predicate is true. A predicate that throws sends its record to the
 * dead-letter destination.
 *
 * @example payments.pipe(filter((p) => p.amount > 0))
 */
export function filter<T>(predicate: (value: T, record: StreamRecord<T>) => boolean, options: { name?: string } = {}): OperatorFunction<Batch<T>, Batch<T>> {
  const step = options.name ?? 'filter';
  return (source) =>
    new Observable<Batch<T>>((subscriber) =>
      source.subscribe({
        next(batch) {
          const input = batch.records;
          const output: StreamRecord<T>[] = [];
          for (let i = 0; i < input.length; i++) {
            const record = input[i]!;
            try {
              if (predicate(record.value, record)) output.push(record);
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
