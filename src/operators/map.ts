import type { OperatorFunction } from 'rxjs';
import type { Batch, StreamRecord } from '../core/batch.ts';
import { perRecord } from './per-record.ts';

/**
 * Transforms each record's value. A record whose function throws goes to the dead-letter
 * destination (step `name`) and the others continue.
 *
 * @example payments.pipe(map((p) => ({ ...p, amountCents: Math.round(p.amount * 100) })))
 */
export function map<T, U>(project: (value: T, record: StreamRecord<T>) => U, options: { name?: string } = {}): OperatorFunction<Batch<T>, Batch<U>> {
  return perRecord<T, U>(options.name ?? 'map', (record, output) => {
    const value = project(record.value, record);
    output.push({ value, key: record.key, eventTime: record.eventTime, topic: record.topic, partition: record.partition, offset: record.offset });
  });
}
