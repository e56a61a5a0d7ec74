import { Subject, type Observable, type Subscription } from 'rxjs';
import { AckToken } from '../../src/core/ack.ts';
import type { Batch, DeadLetter, LateRecord, StreamRecord } from '../../src/core/batch.ts';
import { EventTimeClock } from '../../src/core/event-time-clock.ts';
import { StateRegistry } from '../../src/core/step-state.ts';

/** The records of one source batch and the watermark after it, as the engine computes them. */
export interface SourceBatch<E> {
  events: readonly E[];
  /** Event time of each event. */
  times: readonly number[];
  watermark: number;
}

/** Named output streams of a pipeline under test (its steps must have distinct names). */
export type Outputs = Record<string, Observable<Batch<unknown>>>;

/**
 * Splits `events` into source batches of `batchSize` with a real EventTimeClock (watermark = max
 * event time - outOfOrderness), plus a closing batch with watermark +Infinity unless told not to.
 */
export function sourceBatches<E>(events: readonly E[], eventTime: (e: E) => number, options: { batchSize: number; outOfOrderness: number; close?: boolean }): SourceBatch<E>[] {
  const clock = new EventTimeClock(options.outOfOrderness);
  const batches: SourceBatch<E>[] = [];
  for (let start = 0; start < events.length; start += options.batchSize) {
    const slice = events.slice(start, start + options.batchSize);
    const times = slice.map(eventTime);
    batches.push({ events: slice, times, watermark: clock.observe('array:0', Math.max(...times)) });
  }
  if (options.close ?? true) batches.push({ events: [], times: [], watermark: clock.finish() });
  return batches;
}

/** The same batches with watermarks from a fresh clock from `from` on: a restart whose clock was not checkpointed. */
export function withFreshClockFrom<E>(batches: readonly SourceBatch<E>[], from: number, outOfOrderness: number): SourceBatch<E>[] {
  const clock = new EventTimeClock(outOfOrderness);
  return batches.map((batch, i) => {
    if (i < from) return batch;
    if (batch.times.length === 0) return { ...batch, watermark: batch.watermark === Infinity ? Infinity : clock.watermark };
    return { ...batch, watermark: clock.observe('array:0', Math.max(...batch.times)) };
  });
}

export interface RunOptions {
  /** Give batches a StateRegistry (default true); false: no registry at all, as in plain runs. */
  registry?: boolean;
  durable?: boolean;
  maxOpenWindows?: number;
  onOpenWindows?: (step: string, count: number) => void;
}

export interface RestartRun {
  /** Per output, per source batch, the values emitted in that batch's pass. */
  outputs: Record<string, unknown[][]>;
  /** Late records per source batch. */
  late: LateRecord[][];
  deadLetters: DeadLetter[];
  /** Per source batch: was its ack token done right after the pass (the source's reference released)? */
  doneAfterPass: boolean[];
  tokens: AckToken[];
  /** Serialized size of each checkpoint taken, in bytes. */
  checkpointBytes: number[];
  /** Checkpointed steps no step claimed after each restart (should be empty). */
  unclaimed: string[][];
  /** The first error an output stream reported, with the batch it came in. */
  error: { batch: number; error: unknown } | null;
}

/**
 * Feeds `batches` through `pipeline` as the engine does (one ack token per source batch, released
 * by the source after the synchronous pass; nothing downstream retains it). Before each batch
 * index in `restartAt`, it checkpoints the registry, throws the pipeline away (a crash: nothing is
 * completed or flushed) and builds a fresh one on a registry restored from that checkpoint.
 */
export function runWithRestarts<E>(pipeline: (input: Observable<Batch<E>>) => Outputs, batches: readonly SourceBatch<E>[], restartAt: readonly number[] = [], options: RunOptions = {}): RestartRun {
  const useRegistry = options.registry ?? true;
  const run: RestartRun = { outputs: {}, late: [], deadLetters: [], doneAfterPass: [], tokens: [], checkpointBytes: [], unclaimed: [], error: null };
  let current = 0;
  let registry: StateRegistry | undefined;
  let input: Subject<Batch<E>>;
  let subscriptions: Subscription[] = [];

  const start = (restored?: Map<string, Uint8Array>) => {
    registry = useRegistry ? new StateRegistry({ durable: options.durable ?? true, restored, maxOpenWindows: options.maxOpenWindows, onOpenWindows: options.onOpenWindows }) : undefined;
    input = new Subject<Batch<E>>();
    subscriptions = Object.entries(pipeline(input.asObservable())).map(([name, stream]) => {
      const perBatch = (run.outputs[name] ??= []);
      return stream.subscribe({
        next: (batch) => {
          (perBatch[current] ??= []).push(...batch.records.map((r) => r.value));
        },
        error: (error) => {
          run.error ??= { batch: current, error };
        },
      });
    });
  };

  start();
  let offset = 0;
  for (current = 0; current < batches.length; current++) {
    if (restartAt.includes(current) && current > 0) {
      const checkpoint = registry?.snapshot() ?? new Map<string, Uint8Array>();
      run.checkpointBytes.push([...checkpoint.values()].reduce((n, bytes) => n + bytes.length, 0));
      for (const subscription of subscriptions) subscription.unsubscribe();
      start(checkpoint);
    }
    const source = batches[current]!;
    const records: StreamRecord<E>[] = source.events.map((value, i) => ({ value, key: '', eventTime: source.times[i]!, topic: 'array', partition: 0, offset: String(offset + i) }));
    offset += records.length;
    const token = new AckToken('array:0', BigInt(offset - 1), records.length, () => {});
    run.tokens.push(token);
    const side = registry === undefined ? { late: [], deadLetters: [] } : { late: [], deadLetters: [], state: registry };
    const batch: Batch<E> = { records, watermark: source.watermark, acks: [token], side };
    input!.next(batch);
    token.release();
    run.doneAfterPass.push(token.done);
    run.late.push(batch.side.late.splice(0));
    run.deadLetters.push(...batch.side.deadLetters.splice(0));
    if (restartAt.includes(current) || current === 0) run.unclaimed.push(registry?.unclaimed ?? []);
  }
  for (const perBatch of Object.values(run.outputs)) for (let i = 0; i < batches.length; i++) perBatch[i] ??= [];
  for (const subscription of subscriptions) subscription.unsubscribe();
  return run;
}
