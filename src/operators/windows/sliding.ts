import { Observable, type OperatorFunction } from 'rxjs';
import type { Batch, StreamRecord } from '../../core/batch.ts';
import { toMillis, type Duration } from '../../core/duration.ts';
import { ConfigError } from '../../core/errors.ts';
import type { Windowed } from './aggregate.ts';
import type { AggregateResult, Aggregation, AggregationMap } from './aggregations.ts';
import { newHold, releaseHolds, SlidingBuffers, type AckHold, type SlidingBuffersState } from './sliding-buffer.ts';
import { countWindowStep } from './count-window-step.ts';
import { noteEmitted, startStepSpan } from '../../observability/tracing/batch-trace.ts';

/** Checkpointed state of one sliding-window step. */
interface SlidingStepState extends SlidingBuffersState {
  watermark: number;
}

export interface SlidingOptions {
  /** Window length: a record's window holds its key's records in (t - size, t]. Must be positive. */
  size: Duration;
  /** How far behind the watermark a record may be and still get an exact result. Default 0. */
  grace?: Duration;
  /** Step name for late records; default 'sliding-<size>ms'. */
  name?: string;
}

/**
 * Sliding windows "per record" (Kafka Streams' and Flink's sliding-per-event aggregation): for
 * each record of key k with event time t, one result over k's records with event time in
 * (t - size, t] that arrived before it, and itself; windowStart = t - size + 1, windowEnd =
 * t + 1 (integer ms). Results are emitted at once, in input order, one per non-late record.
 *
 * - Lateness, against the watermark W before the record's batch: a record is late iff
 *   t + grace < W (its window [t - size + 1, t + 1) ended before W - grace, the rule of the
 *   other windows). Late records go to `side.late` under the step name, get no result and do
 *   not enter later results. `grace: size` accepts everything not older than W - size.
 * - Eviction: entries with time <= W - grace - size are dropped; a non-late record only needs
 *   times > t - size >= W - grace - size, so every result is exact.
 * - Acks: a buffered record still contributes to later results, so its batch's acks are
 *   retained until its last record is evicted (then released after the batch is emitted).
 *   With durable state (`side.state.durable`) checkpoints cover the buffer instead: none held.
 * - State: registered under the step name on the first batch (see state/step-state.ts): the
 *   buffered records with their values; the open-window count is the number buffered.
 *
 * Cost: O(log n + w) aggregation steps per record (n buffered records of the key, w of them in
 * its window); memory: each key's records within size + grace of the watermark (plus the
 * source's out-of-orderness). Invertible aggregates could use a running total instead; `add`
 * over the window keeps every aggregation (min, max, first, last) exact under disorder.
 *
 * @example
 * payments.pipe(keyBy((p) => p.cardId), sliding({ size: '10m' }, { n: count(), total: sum((p) => p.amount) }))
 */
export function sliding<T, M extends AggregationMap<T>>(options: SlidingOptions, aggregations: M): OperatorFunction<Batch<T>, Batch<Windowed<AggregateResult<T, M>>>> {
  type Out = Windowed<AggregateResult<T, M>>;
  const sizeMs = toMillis(options.size, 'sliding.size');
  const graceMs = toMillis(options.grace ?? 0, 'sliding.grace');
  if (sizeMs <= 0) throw new ConfigError('sliding.size', 'the window size must be positive', "use e.g. '10m'");
  const step = options.name ?? `sliding-${sizeMs}ms`;
  const names = Object.keys(aggregations);
  const aggs: Aggregation<T, unknown, unknown>[] = names.map((name) => aggregations[name]!);

  return (source) =>
    new Observable<Batch<Out>>((subscriber) => {
      const buffers = new SlidingBuffers<T>(sizeMs, aggs);
      let watermark = -Infinity;
      // With durable state every record shares this hold, which holds no acks.
      let noAcks: AckHold | null = null;
      let registered = false;
      return source.subscribe({
        next(batch) {
          const registry = batch.side.state;
          if (!registered) {
            registered = true;
            if (registry?.durable) noAcks = { acks: [], live: 0 };
            try {
              registry?.register(step, {
                snapshot: (): SlidingStepState => ({ watermark, ...buffers.snapshot() }),
                restore: (saved) => {
                  watermark = (saved as SlidingStepState).watermark;
                  buffers.restore(saved as SlidingStepState, noAcks ?? { acks: [], live: 0 });
                },
              }, `sliding size ${sizeMs} grace ${graceMs}: ${names.join(',')}`);
            } catch (error) {
              subscriber.error(error); // a duplicate step name, or state this step cannot restore
              return;
            }
          }
          const span = startStepSpan(batch.side.trace, `window ${step}`, { 'tributary.step': step, 'tributary.records': batch.records.length });
          const horizon = watermark - graceMs - sizeMs;
          const released: AckHold[] = [];
          const input = batch.records;
          const records: StreamRecord<Out>[] = [];
          let hold: AckHold | null = noAcks; // else created with the first buffered record of the batch
          for (let r = 0; r < input.length; r++) {
            const record = input[r]!;
            const t = record.eventTime;
            if (t + graceMs < watermark) {
              batch.side.late.push({ step, key: record.key, eventTime: t, watermark, topic: record.topic, partition: record.partition, offset: record.offset, value: record.value });
              continue;
            }
            hold ??= newHold(batch.acks);
            const state = buffers.insertAndAggregate(record.key, record.value, t, hold, horizon, released);
            const value = { key: record.key, windowStart: t - sizeMs + 1, windowEnd: t + 1 } as Record<string, unknown>;
            for (let i = 0; i < aggs.length; i++) value[names[i]!] = aggs[i]!.result(state[i]);
            records.push({ value: value as Out, key: record.key, eventTime: t, topic: '', partition: -1, offset: '' });
          }
          if (registry !== undefined) {
            try {
              registry.checkOpenWindows(step, buffers.size);
            } catch (error) {
              subscriber.error(error); // past the bound: stop the topology, emit nothing more
              return;
            }
          }
          if (batch.watermark > watermark) watermark = batch.watermark;
          buffers.dropIdleKeys(watermark - graceMs - sizeMs, released);
          countWindowStep(batch.side, step, batch.records.length, records.length);
          if (span !== undefined) {
            // Sliding windows emit in the batch that fed them: the stages after descend from this span.
            if (records.length > 0) noteEmitted(batch.side, batch.side.trace!.tracer, [span.context]);
            span.end();
          }
          subscriber.next({ records, watermark: batch.watermark, acks: batch.acks, side: batch.side });
          // Evicted records no longer contribute to any result: their batches may commit.
          releaseHolds(released);
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
