import { Observable, type OperatorFunction } from 'rxjs';
import type { AckToken } from '../../core/ack.ts';
import type { Batch, StreamRecord } from '../../core/batch.ts';
import type { AggregateResult, Aggregation, AggregationMap } from './aggregations.ts';
import { lastWindowEnd, windowsPerEvent, type WindowedBatch } from './window-spec.ts';

/** Identity of a closed window, merged into every aggregate result. */
export interface WindowResult {
  key: string;
  /** Inclusive start, epoch ms. */
  windowStart: number;
  /** Exclusive end, epoch ms. */
  windowEnd: number;
}

export type Windowed<R> = WindowResult & R;

/** Open windows that end at the same time, for every key (design rule 6: buckets keyed by end). */
interface Bucket {
  start: number;
  end: number;
  states: Map<string, unknown[]>;
  /** Source batches with records in this bucket: their offsets commit only after it is emitted. */
  acks: AckToken[];
  lastBatch: object | null;
}

/**
 * Aggregates the records of each key and window, and emits one result per key when the
 * watermark passes the window's end plus grace (emit mode "final"). A record whose windows have
 * all closed goes to the late destination, counted under the step name; never dropped silently.
 *
 * Lateness is judged against the watermark before the record's batch; windows close against the
 * watermark after it.
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
      const buckets = new Map<number, Bucket>();
      let watermark = -Infinity;

      function newState(): unknown[] {
        const state = new Array<unknown>(aggs.length);
        for (let i = 0; i < aggs.length; i++) state[i] = aggs[i]!.init();
        return state;
      }

      function bucketFor(end: number, sizeMs: number, batch: Batch<T>): Bucket {
        let bucket = buckets.get(end);
        if (bucket === undefined) {
          bucket = { start: end - sizeMs, end, states: new Map(), acks: [], lastBatch: null };
          buckets.set(end, bucket);
        }
        if (bucket.lastBatch !== batch) {
          bucket.lastBatch = batch;
          for (const token of batch.acks) {
            token.retain();
            bucket.acks.push(token);
          }
        }
        return bucket;
      }

      function addRecord(batch: WindowedBatch<T>, record: StreamRecord<T>, step: string): void {
        const spec = batch.window;
        const t = record.eventTime;
        let end = lastWindowEnd(spec, t);
        let accepted = false;
        for (let k = windowsPerEvent(spec); k > 0; k--, end -= spec.hopMs) {
          if (end + spec.graceMs <= watermark) continue; // this window already closed
          const bucket = bucketFor(end, spec.sizeMs, batch);
          let state = bucket.states.get(record.key);
          if (state === undefined) {
            state = newState();
            bucket.states.set(record.key, state);
          }
          for (let i = 0; i < aggs.length; i++) state[i] = aggs[i]!.add(state[i], record.value, t);
          accepted = true;
        }
        if (!accepted) {
          batch.side.late.push({ step, key: record.key, eventTime: t, watermark, topic: record.topic, partition: record.partition, offset: record.offset, value: record.value });
        }
      }

      function closeWindows(graceMs: number): { records: StreamRecord<Out>[]; closed: Bucket[] } {
        const records: StreamRecord<Out>[] = [];
        const closed: Bucket[] = [];
        for (const bucket of buckets.values()) if (bucket.end + graceMs <= watermark) closed.push(bucket);
        if (closed.length === 0) return { records, closed };
        closed.sort((a, b) => a.end - b.end);
        for (const bucket of closed) {
          buckets.delete(bucket.end);
          for (const [key, state] of bucket.states) {
            const value = { key, windowStart: bucket.start, windowEnd: bucket.end } as Record<string, unknown>;
            for (let i = 0; i < aggs.length; i++) value[names[i]!] = aggs[i]!.result(state[i]);
            records.push({ value: value as Out, key, eventTime: bucket.end - 1, topic: '', partition: -1, offset: '' });
          }
        }
        return { records, closed };
      }

      return source.subscribe({
        next(batch) {
          const step = options.name ?? batch.window.name;
          const input = batch.records;
          for (let i = 0; i < input.length; i++) addRecord(batch, input[i]!, step);
          if (batch.watermark > watermark) watermark = batch.watermark;
          const { records, closed } = closeWindows(batch.window.graceMs);
          let acks = batch.acks;
          if (closed.length > 0) {
            const union = new Set(acks);
            for (const bucket of closed) for (const token of bucket.acks) union.add(token);
            acks = [...union];
          }
          subscriber.next({ records, watermark: batch.watermark, acks, side: batch.side });
          // Downstream has retained what it keeps; the windows' own holds can go now.
          for (const bucket of closed) for (const token of bucket.acks) token.release();
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
