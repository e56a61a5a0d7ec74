import { Observable, type OperatorFunction } from 'rxjs';
import type { Batch, StreamRecord } from '../core/batch.ts';
import { deadLetterUserError } from './guarded.ts';
import { countStepOf } from './step-counts.ts';

/**
 * Builds a stateless batch operator from a per-record step that appends zero or more output
 * records. One output batch per input batch, watermark, acks and side outputs passed through; a
 * step that throws sends its record to the dead letters (under `step`) and the rest continue.
 */
export function perRecord<T, U>(step: string, apply: (record: StreamRecord<T>, output: StreamRecord<U>[]) => void): OperatorFunction<Batch<T>, Batch<U>> {
  return (source) =>
    new Observable<Batch<U>>((subscriber) =>
      source.subscribe({
        next(batch) {
          const input = batch.records;
          const output: StreamRecord<U>[] = [];
          for (let i = 0; i < input.length; i++) {
            try {
              apply(input[i]!, output);
            } catch (error) {
              deadLetterUserError(batch, step, input[i]!, error);
            }
          }
          countStepOf(batch.side, step, input.length, output.length);
          subscriber.next({ records: output, watermark: batch.watermark, acks: batch.acks, side: batch.side });
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}
