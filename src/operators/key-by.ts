import { RecordError } from '../core/errors.ts';
import type { OperatorFunction } from 'rxjs';
import type { Batch } from '../core/batch.ts';
import { perRecord } from './per-record.ts';

/**
 * Sets each record's grouping key, used by windows and joins downstream. Keys are strings so
 * per-key state lives in one flat Map. A key function that throws dead-letters its record.
 * Records are copied, not changed in place: branches of one stream may key differently.
 *
 * @example payments.pipe(keyBy((p) => p.cardId))
 */
export function keyBy<T>(selectKey: (value: T) => string | number, options: { name?: string } = {}): OperatorFunction<Batch<T>, Batch<T>> {
  return perRecord<T, T>(options.name ?? 'keyBy', (record, output) => {
    const key = selectKey(record.value);
    if (key === undefined || key === null) throw new RecordError('key function returned no key', 'KEY');
    output.push({ value: record.value, key: String(key), eventTime: record.eventTime, topic: record.topic, partition: record.partition, offset: record.offset });
  });
}
