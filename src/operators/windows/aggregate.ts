import { Observable, type OperatorFunction } from 'rxjs';
import type { Batch, StreamRecord } from '../../core/batch.ts';
import type { AggregateResult, Aggregation, AggregationMap } from './aggregations.ts';
import { lastWindowEnd, type WindowedBatch } from './window-spec.ts';
import { WindowSlices, type ClosedWindow } from './window-slices.ts';

/** Identity of a closed window, merged into every aggregate result. */
export interface WindowResult {
  key: string;
  /** Inclusive start, epoch ms. */
  windowStart: number;
  /** Exclusive end, epoch ms. */
  windowEnd: number;
}

export type Windowed<R> = WindowResult & R;

/**
 * Aggregates the records of each key and window, and emits one result per key when the
 * watermark passes the window's end plus grace (emit mode "final"). A record whose windows have
 * all closed goes to the late destination, counted under the step name; never dropped silently.
 *
 * Lateness is judged against the watermark before the record's batch; windows close against the
 * watermark after it. Windows are emitted in end order; within a window, keys in first-seen
 * order over its slices (earliest slice first). State is one partial accumulator per key and
 * hop-long slice, merged when a window closes; a slice holds the acks of the batches that
 * contributed to it until the last window containing it has been emitted.
 *
 * @example byCard.pipe(tumbling('1m', { grace: '10s' }), aggregate({ n: count(), total: sum((p) => p.amount) }))
 */
export function aggregate<T, M extends AggregationMap<T>>(
  aggregations: M,
  options: { name?: string } = {},
): OperatorFunction<WindowedBatch<T>, Batch<Windowed<AggregateResult<T, M>>>> {
  type Out = Windowed<AggregateResult<T, M>>;
  const names = Object.keys(aggregations);
  const aggs: Aggregation<T, unknown, unknown>[] = names.map((name) => aggregations[name]!);

  return (source) =>
    new Observable<Batch<Out>>((subscriber) => {
      let slices: WindowSlices<T> | null = null;
      let watermark = -Infinity;

      function addRecords(batch: WindowedBatch<T>, state: WindowSlices<T>, step: string): void {
        const spec = batch.window;
        const input = batch.records;
        for (let r = 0; r < input.length; r++) {
          const record = input[r]!;
          const t = record.eventTime;
          // Late only when the last window containing the record has closed, i.e. all of them.
          if (lastWindowEnd(spec, t) + spec.graceMs <= watermark) {
            batch.side.late.push({ step, key: record.key, eventTime: t, watermark, topic: record.topic, partition: record.partition, offset: record.offset, value: record.value });
            continue;
          }
          state.add(state.sliceFor(t, batch), record.key, record.value, t);
        }
      }

      function toRecords(windows: readonly ClosedWindow[]): StreamRecord<Out>[] {
        const records: StreamRecord<Out>[] = [];
        for (const window of windows) {
          for (const [key, state] of window.states) {
            const value = { key, windowStart: window.start, windowEnd: window.end } as Record<string, unknown>;
            for (let i = 0; i < aggs.length; i++) value[names[i]!] = aggs[i]!.result(state[i]);
            records.push({ value: value as Out, key, eventTime: window.end - 1, topic: '', partition: -1, offset: '' });
          }
        }
        return records;
      }

      return source.subscribe({
        next(batch) {
          const step = options.name ?? batch.window.name;
          slices ??= new WindowSlices<T>(batch.window, aggs);
          addRecords(batch, slices, step);
          if (batch.watermark > watermark) watermark = batch.watermark;
          const { windows, acks: windowAcks, dropped } = slices.closeThrough(watermark - batch.window.graceMs);
          let acks = batch.acks;
          if (windowAcks.length > 0) {
            const union = new Set(acks);
            for (const token of windowAcks) union.add(token);
            acks = [...union];
          }
          subscriber.next({ records: toRecords(windows), watermark: batch.watermark, acks, side: batch.side });
          // Downstream has retained what it keeps; a slice's own holds go once its last window is out.
          for (const slice of dropped) for (const token of slice.acks) token.release();
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
