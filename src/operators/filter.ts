import type { OperatorFunction } from 'rxjs';
import type { Batch, StreamRecord } from '../core/batch.ts';
import { perRecord } from './per-record.ts';

/**
 * Keeps the records whose predicate is true. A predicate that throws sends its record to the
 * dead-letter destination.
 *
 * @example payments.pipe(filter((p) => p.amount > 0))
 */
export function filter<T>(predicate: (value: T, record: StreamRecord<T>) => boolean, options: { name?: string } = {}): OperatorFunction<Batch<T>, Batch<T>> {
  return perRecord<T, T>(options.name ?? 'filter', (record, output) => {
    if (predicate(record.value, record)) output.push(record);
  });
}
