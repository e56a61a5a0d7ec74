import { Observable, type OperatorFunction } from 'rxjs';
import type { Batch, StreamRecord } from '../core/batch.ts';
import { deadLetterUserError } from './guarded.ts';

/**
 * Transforms each record's value. A record whose function throws goes to the dead-letter
 * destination (step `name`) and the others continue.
 *
 * @example payments.pipe(map((p) => ({ ...p, amountCents: Math.round(p.amount * 100) })))
 */
export function map<T, U>(project: (value: T, record: StreamRecord<T>) => U, options: { name?: string } = {}): OperatorFunction<Batch<T>, Batch<U>> {
  const step = options.name ?? 'map';
  return (source) =>
    new Observable<Batch<U>>((subscriber) =>
      source.subscribe({
        next(batch) {
          const input = batch.records;
          const output: StreamRecord<U>[] = [];
          for (let i = 0; i < input.length; i++) {
            const record = input[i]!;
            try {
              const value = project(record.value, record);
              output.push({ value, key: record.key, eventTime: record.eventTime, topic: record.topic, partition: record.partition, offset: record.offset });
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
