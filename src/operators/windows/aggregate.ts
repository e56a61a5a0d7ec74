import { Observable, type OperatorFunction } from 'rxjs';
import type { Batch, StreamRecord } from '../../core/batch.ts';
import type { AggregateResult, Aggregation, AggregationMap } from './aggregations.ts';
import { lastWindowEnd, type WindowedBatch } from './window-spec.ts';
import { staggerPhase } from './window-stagger.ts';
import { WindowSlices, type ClosedWindow, type WindowSlicesState } from './window-slices.ts';
import { RevisionEmitter, type RevisionState } from './emit-revisions.ts';
import { countWindowStep } from './count-window-step.ts';
import { noteEmitted, startStepSpan } from '../../observability/tracing/batch-trace.ts';
import type { TraceContext } from '../../observability/tracing/pipeline-tracer.ts';

/** Identity of a closed window, merged into every aggregate result. */
export interface WindowResult {
  key: string;
  /** Inclusive start, epoch ms. */
  windowStart: number;
  /** Exclusive end, epoch ms. */
  windowEnd: number;
}

export type Windowed<R> = WindowResult & R;

/** A tumbling/hopping row: which emission of its key and window it is (0 for the first). */
export interface WindowRevision extends WindowResult {
  /** 0, then +1 for each re-emission of the same key and window (emit 'current', allowed lateness). */
  revision: number;
}

export type Revised<R> = WindowRevision & R;

/** Checkpointed state of one aggregate step. */
interface AggregateState {
  watermark: number;
  slices: WindowSlicesState;
  revisions: RevisionState | null;
}

/**
 * Aggregates the records of each key and window. Emit mode "final" (default): one row per key
 * when the watermark passes the window's end plus grace (revision 0); with `allowedLateness` L
 * the window stays open to records until end + grace + L and each batch that changes a key
 * re-emits that key's full aggregate with the next revision. Emit mode "current": each batch
 * that changes a key and window emits it (revisions 0, 1, 2, ...). A record whose windows are
 * all past end + grace + L goes to the late destination, counted under the step name; never
 * dropped silently.
 *
 * Lateness is judged against the watermark before the record's batch; windows close against the
 * watermark after it. Rows of one batch come in window end order; within a window, keys in
 * first-seen order over its slices (earliest slice first). State is one partial accumulator per
 * key and hop-long slice, merged on emission; a slice holds the acks of the batches that
 * contributed to it until its last window is past end + grace + L, and every emitted batch
 * carries the acks of all slices of the windows it emits.
 *
 * @example byCard.pipe(tumbling('1m', { grace: '10s' }), aggregate({ n: count(), total: sum((p) => p.amount) }))
 * @example byCard.pipe(tumbling('1m', { allowedLateness: '5m' }), aggregate({ n: count() })) // revisions 0, 1, ...
 */
export function aggregate<T, M extends AggregationMap<T>>(
  aggregations: M,
  options: { name?: string } = {},
): OperatorFunction<WindowedBatch<T>, Batch<Revised<AggregateResult<T, M>>>> {
  type Out = Revised<AggregateResult<T, M>>;
  const names = Object.keys(aggregations);
  const aggs: Aggregation<T, unknown, unknown>[] = names.map((name) => aggregations[name]!);

  return (source) =>
    new Observable<Batch<Out>>((subscriber) => {
      let slices: WindowSlices<T> | null = null;
      let emitter: RevisionEmitter<T> | null = null;
      let watermark = -Infinity;

      function addRecords(batch: WindowedBatch<T>, state: WindowSlices<T>, step: string, traced: TraceContext | undefined): void {
        const spec = batch.window;
        const input = batch.records;
        const staggered = spec.staggerMs > 0;
        for (let r = 0; r < input.length; r++) {
          const record = input[r]!;
          const t = record.eventTime;
          const phase = staggered ? staggerPhase(record.key, spec.hopMs, spec.staggerMs) : 0;
          // Late only when the last window containing the record is final, i.e. all of them.
          if (lastWindowEnd(spec, t, phase) + spec.graceMs + spec.allowedLatenessMs <= watermark) {
            batch.side.late.push({ step, key: record.key, eventTime: t, watermark, topic: record.topic, partition: record.partition, offset: record.offset, value: record.value });
            continue;
          }
          const slice = state.sliceFor(t, batch, phase);
          state.add(slice, record.key, record.value, t);
          if (traced !== undefined) state.noteTrace(slice, traced);
        }
      }

      function toRecords(windows: readonly ClosedWindow[]): StreamRecord<Out>[] {
        const records: StreamRecord<Out>[] = [];
        for (const window of windows) {
          for (const [key, state] of window.states) {
            const value = { key, windowStart: window.start, windowEnd: window.end, revision: window.revisions?.get(key) ?? 0 } as Record<string, unknown>;
            for (let i = 0; i < aggs.length; i++) value[names[i]!] = aggs[i]!.result(state[i]);
            records.push({ value: value as Out, key, eventTime: window.end - 1, topic: '', partition: -1, offset: '' });
          }
        }
        return records;
      }

      return source.subscribe({
        next(batch) {
          const step = options.name ?? batch.window.name;
          const registry = batch.side.state;
          let span: ReturnType<typeof startStepSpan>;
          try {
            if (slices === null) {
              const state = new WindowSlices<T>(batch.window, aggs, !registry?.durable);
              slices = state;
              if (state.tracking) emitter = new RevisionEmitter(batch.window, state);
              registry?.register(
                step,
                {
                  snapshot: (): AggregateState => ({ watermark, slices: state.snapshot(), revisions: emitter?.snapshot() ?? null }),
                  restore: (saved) => {
                    const restored = saved as AggregateState;
                    watermark = restored.watermark;
                    state.restore(restored.slices);
                    if (restored.revisions !== null) emitter?.restore(restored.revisions);
                  },
                },
                `${batch.window.name}/${batch.window.emit}/${batch.window.allowedLatenessMs}: ${names.join(',')}`,
              );
            }
            span = startStepSpan(batch.side.trace, `window ${step}`, { 'tributary.step': step, 'tributary.records': batch.records.length });
            addRecords(batch, slices, step, span?.context);
            registry?.checkOpenWindows(step, slices.openEntries);
          } catch (error) {
            span?.end(error);
            // A thrown error would only reach rxjs' unhandled-error hook later; this stops the
            // topology now, and the offsets of what is in the windows stay uncommitted.
            subscriber.error(error);
            return;
          }
          if (batch.watermark > watermark) watermark = batch.watermark;
          const { windows, acks: windowAcks, dropped, traces } = emitter !== null ? emitter.advance(watermark) : slices.closeThrough(watermark - batch.window.graceMs);
          // Windows holding traced records make the stages after them traced in this batch.
          if (traces.length > 0) {
            const tracer = batch.side.trace?.tracer ?? registry?.runtime?.tracer;
            if (tracer !== undefined) noteEmitted(batch.side, tracer, traces);
          }
          let acks = batch.acks;
          if (windowAcks.length > 0) {
            const union = new Set(acks);
            for (const token of windowAcks) union.add(token);
            acks = [...union];
          }
          const records = toRecords(windows);
          batch.side.timing?.note('closed', records.length);
          countWindowStep(batch.side, step, batch.records.length, records.length);
          span?.end();
          subscriber.next({ records, watermark: batch.watermark, acks, side: batch.side });
          // Downstream has retained what it keeps; a slice's own holds go once its last window is out.
          for (const slice of dropped) for (const token of slice.acks) token.release();
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
