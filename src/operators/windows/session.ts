import { Observable, type OperatorFunction } from 'rxjs';
import type { AckToken } from '../../core/ack.ts';
import type { Batch, StreamRecord } from '../../core/batch.ts';
import { toMillis, type Duration } from '../../core/duration.ts';
import { ConfigError } from '../../core/errors.ts';
import type { Windowed } from './aggregate.ts';
import type { AggregateResult, Aggregation, AggregationMap } from './aggregations.ts';
import { SessionStore, type Session, type SessionStoreState } from './session-store.ts';
import { countWindowStep } from './count-window-step.ts';
import { startStepSpan } from '../../observability/tracing/batch-trace.ts';

/** Checkpointed state of one session-window step. */
interface SessionStepState extends SessionStoreState {
  watermark: number;
}

export interface SessionWindowOptions {
  /** Inactivity gap: consecutive events of a session are less than `gap` apart. Must be positive. */
  gap: Duration;
  /** Time after a session's end during which it still accepts records (event time). Default 0. */
  grace?: Duration;
  /** Step name for late records; default 'session-<gap>ms'. */
  name?: string;
}

/**
 * Session windows per key, aggregated in one step (emit mode "final"). A session is a maximal
 * run of a key's events whose consecutive event times are less than `gap` apart; its window is
 * [first event, last event + gap). Out-of-order events may extend a session either way, and an
 * event within `gap` of two open sessions merges them (with `Aggregation.merge`).
 *
 * - Closing: a session closes and emits once when the watermark after a batch reaches
 *   windowEnd + grace. Rows of one batch come out by windowEnd, then key (string order).
 * - Lateness, against the watermark W before the record's batch: a record is late iff it lies
 *   within `gap` of no open session of its key (so it would neither join, extend nor bridge one)
 *   and its own session would already be closed: t + gap + grace <= W. Every open session has
 *   end + grace > W, so a record that touches one is never late. Late records go to
 *   `side.late` under the step name; never dropped silently.
 * - Acks: a session retains the acks of every batch that contributed a record (a merge keeps
 *   the union); the batch that emits it carries them, and the session releases after emitting.
 *   With durable state (`side.state.durable`) checkpoints cover open sessions instead: none held.
 * - State: registered under the step name on the first batch (see state/step-state.ts); the
 *   open-window count reported after each batch's records is the number of open sessions.
 *
 * Cost: O(log s + m) per record for a key with s open sessions, m of them merged; closing is
 * O(log h) per session on a min-heap of session ends (no timer per window).
 *
 * @example
 * payments.pipe(keyBy((p) => p.cardId), sessionWindows({ gap: '30s', grace: '10s' }, { n: count(), total: sum((p) => p.amount) }))
 */
export function sessionWindows<T, M extends AggregationMap<T>>(options: SessionWindowOptions, aggregations: M): OperatorFunction<Batch<T>, Batch<Windowed<AggregateResult<T, M>>>> {
  type Out = Windowed<AggregateResult<T, M>>;
  const gapMs = toMillis(options.gap, 'sessionWindows.gap');
  const graceMs = toMillis(options.grace ?? 0, 'sessionWindows.grace');
  if (gapMs <= 0) throw new ConfigError('sessionWindows.gap', 'the inactivity gap must be positive', "use e.g. '30s'");
  const step = options.name ?? `session-${gapMs}ms`;
  const names = Object.keys(aggregations);
  const aggs: Aggregation<T, unknown, unknown>[] = names.map((name) => aggregations[name]!);

  function toRecord(session: Session): StreamRecord<Out> {
    const windowEnd = session.last + gapMs;
    const value = { key: session.key, windowStart: session.start, windowEnd } as Record<string, unknown>;
    for (let i = 0; i < aggs.length; i++) value[names[i]!] = aggs[i]!.result(session.state[i]);
    return { value: value as Out, key: session.key, eventTime: windowEnd - 1, topic: '', partition: -1, offset: '' };
  }

  return (source) =>
    new Observable<Batch<Out>>((subscriber) => {
      let store: SessionStore<T> | null = null;
      let watermark = -Infinity;
      return source.subscribe({
        next(batch) {
          const registry = batch.side.state;
          if (store === null) {
            const created = new SessionStore<T>(gapMs, aggs, !registry?.durable);
            store = created;
            try {
              registry?.register(step, {
                snapshot: (): SessionStepState => ({ watermark, ...created.snapshot() }),
                restore: (saved) => {
                  watermark = (saved as SessionStepState).watermark;
                  created.restore(saved as SessionStepState);
                },
              }, `session gap ${gapMs} grace ${graceMs}: ${names.join(',')}`);
            } catch (error) {
              subscriber.error(error); // a duplicate step name, or state this step cannot restore
              return;
            }
          }
          // Tracing: a span for adding a traced batch's records (sessions closed later carry no lineage).
          const span = startStepSpan(batch.side.trace, `window ${step}`, { 'tributary.step': step, 'tributary.records': batch.records.length });
          const closeLimit = watermark - graceMs;
          const input = batch.records;
          for (let r = 0; r < input.length; r++) {
            const record = input[r]!;
            if (store.add(batch, record.key, record.value, record.eventTime, closeLimit)) continue;
            batch.side.late.push({ step, key: record.key, eventTime: record.eventTime, watermark, topic: record.topic, partition: record.partition, offset: record.offset, value: record.value });
          }
          if (registry !== undefined) {
            try {
              registry.checkOpenWindows(step, store.openSessions);
            } catch (error) {
              subscriber.error(error); // past the bound: stop the topology, emit nothing more
              return;
            }
          }
          if (batch.watermark > watermark) watermark = batch.watermark;
          const closed = store.closeThrough(watermark - graceMs);
          const records: StreamRecord<Out>[] = new Array(closed.length);
          let acks = batch.acks;
          if (closed.length > 0) {
            const union = new Set<AckToken>(acks);
            for (let i = 0; i < closed.length; i++) {
              records[i] = toRecord(closed[i]!);
              for (const token of closed[i]!.acks) union.add(token);
            }
            acks = [...union];
          }
          countWindowStep(batch.side, step, batch.records.length, records.length);
          span?.end();
          subscriber.next({ records, watermark: batch.watermark, acks, side: batch.side });
          // Downstream has retained what it keeps; each closed session drops its own holds.
          for (let i = 0; i < closed.length; i++) for (const token of closed[i]!.acks) token.release();
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
