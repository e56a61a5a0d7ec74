import { Observable } from 'rxjs';
import { releaseAll, unionOfAcks, type AckToken } from '../core/ack.ts';
import { subscribePairs } from './paired-batches.ts';
import type { Batch, SideOutputs, StreamRecord } from '../core/batch.ts';
import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { deadLetterUserError } from './guarded.ts';
import { IntervalJoinBuffers, type Buffered, type Hold, type IntervalJoinBuffersState } from './interval-join-buffers.ts';

/** Checkpointed state of one interval-join step. */
interface IntervalJoinState extends IntervalJoinBuffersState {
  watermark: number;
}

export interface IntervalJoinOptions<L, R, O> {
  /** Largest event-time distance of a match, inclusive: |l.eventTime - r.eventTime| <= within. */
  within: Duration;
  /** 'inner' (default): matched pairs only. 'left': also each left record that never matched. */
  type?: 'inner' | 'left';
  /** How far behind the watermark a record may still arrive (event time). Default 0. */
  grace?: Duration;
  /** Step name for late records and dead letters; default 'interval-join'. */
  name?: string;
  /** Builds one output per matching pair; `right` is undefined for an unmatched left record. */
  combine: (left: L, right: R | undefined) => O;
}

/**
 * Stream–stream join on key and event-time distance. Both inputs are keyed (keyBy) and derived
 * from the same source, so batch i of one pairs with batch i of the other (as in joinWindows).
 * Left l and right r match iff l.key === r.key and |l.eventTime - r.eventTime| <= within (both
 * ends inclusive). W is the watermark before a batch, W' the one after it.
 *
 * - Output: one row per matching pair, in the batch where the second of the two arrives, with
 *   eventTime max(l, r) and the left record's provenance. Within a batch: pairs found by its left
 *   records (in order), then by its right records (left records of the same batch count as
 *   arrived first), then unmatched left rows by (eventTime, arrival).
 * - Left join: a left record that never matched comes out once, with right undefined and its own
 *   eventTime, in the batch whose W' >= l.eventTime + within + grace. A windowed step downstream
 *   needs grace >= within + grace to count those rows.
 * - Eviction: a record stays buffered until W' >= eventTime + within + grace.
 * - Lateness: a record is late iff eventTime + grace <= W. Why not eventTime + within + grace:
 *   the earliest partner of t lies at t - within and is evicted once W >= t + grace, so an
 *   accepted record later than that would silently miss matches (or meet a left record already
 *   emitted as unmatched). With this rule every accepted record meets all its partners and an
 *   unmatched row is final. Late records of either side go to `side.late`, never joined.
 * - Acks: a batch's acks are retained once while any of its records is buffered and released
 *   after the batch that evicts the last of them (and emits its unmatched rows) has gone
 *   downstream. Output batches carry the acks of every batch that contributed a row. With
 *   durable state (`side.state.durable`) checkpoints cover the buffers instead: none held, and
 *   output batches carry only the acks of the batch pair that produced them.
 * - State: registered under the step name on the first batch pair (see state/step-state.ts):
 *   buffered records of both sides with their values and whether each left record matched; the
 *   open-window count is the number of buffered records.
 *
 * Cost per record: O(b) for b buffered records of its key on the other side, plus O(log n) on
 * the expiry heap; no timers, no per-record promises.
 *
 * @example
 * const payments = events.pipe(filter((e) => e.type === 'payment'), keyBy((e) => e.paymentId));
 * const auths = events.pipe(filter((e) => e.type === 'authorization'), keyBy((e) => e.paymentId));
 * intervalJoin(payments, auths, { within: '2m', type: 'left', combine: (p, a) => ({ ...p, authorized: a !== undefined }) });
 */
export function intervalJoin<L, R, O>(left: Observable<Batch<L>>, right: Observable<Batch<R>>, options: IntervalJoinOptions<L, R, O>): Observable<Batch<O>> {
  const withinMs = toMillis(options.within, 'intervalJoin.within');
  const graceMs = toMillis(options.grace ?? 0, 'intervalJoin.grace');
  const type = options.type ?? 'inner';
  if (type !== 'inner' && type !== 'left') throw new ConfigError('intervalJoin.type', `unknown join type "${String(type)}"`, "use 'inner' or 'left'");
  if (typeof options.combine !== 'function') throw new ConfigError('intervalJoin.combine', 'no combine function given', 'set combine: (left, right) => ({ ...left, matched: right !== undefined })');
  const step = options.name ?? 'interval-join';
  const emitUnmatched = type === 'left';
  const combine = options.combine;

  return new Observable<Batch<O>>((subscriber) => {
    const buffers = new IntervalJoinBuffers<L, R>(withinMs + graceMs);
    let watermark = -Infinity;
    // With durable state every buffered record shares this hold, which holds no acks.
    let noAcks: Hold | null = null;
    let registered = false;

    function register(side: SideOutputs): void {
      registered = true;
      if (side.state?.durable) noAcks = { acks: [], live: 0 };
      side.state?.register(step, {
        snapshot: (): IntervalJoinState => ({ watermark, ...buffers.snapshot() }),
        restore: (saved) => {
          watermark = (saved as IntervalJoinState).watermark;
          buffers.restore(saved as IntervalJoinState, noAcks ?? { acks: [], live: 0 });
        },
      }, `interval join ${type} within ${withinMs} grace ${graceMs}`);
    }

    function process(lb: Batch<L>, rb: Batch<R>): void {
      const side = mergeSides(lb.side, rb.side);
      if (!registered) {
        try {
          register(side);
        } catch (error) {
          subscriber.error(error); // a duplicate step name, or state this step cannot restore
          return;
        }
      }
      const lateLimit = watermark - graceMs;
      const acks = unionOfAcks(lb.acks, rb.acks);
      const hold: Hold = noAcks ?? { acks, live: 0 };
      const output: StreamRecord<O>[] = [];
      const contributors = new Set<Hold>(); // earlier batches whose records are in this output
      const emit = (l: StreamRecord<L>, r: StreamRecord<R> | undefined, from: Hold) => {
        if (from !== hold) contributors.add(from);
        try {
          const value = combine(l.value, r?.value);
          const eventTime = r === undefined || l.eventTime >= r.eventTime ? l.eventTime : r.eventTime;
          output.push({ value, key: l.key, eventTime, topic: l.topic, partition: l.partition, offset: l.offset });
        } catch (error) {
          deadLetterUserError(lb, step, l, error);
        }
      };

      const lefts = lb.records;
      for (let i = 0; i < lefts.length; i++) {
        const l = lefts[i]!;
        if (l.eventTime <= lateLimit) {
          late(side, l);
          continue;
        }
        let matched = false;
        const rights = buffers.get(l.key)?.right;
        if (rights !== undefined) {
          for (let j = 0; j < rights.length; j++) {
            const e = rights[j]!;
            if (e.evicted || Math.abs(e.record.eventTime - l.eventTime) > withinMs) continue;
            matched = true;
            emit(l, e.record, e.hold);
          }
        }
        buffers.add(l, true, hold, matched);
      }
      const rightsIn = rb.records;
      for (let i = 0; i < rightsIn.length; i++) {
        const r = rightsIn[i]!;
        if (r.eventTime <= lateLimit) {
          late(side, r);
          continue;
        }
        const ls = buffers.get(r.key)?.left;
        if (ls !== undefined) {
          for (let j = 0; j < ls.length; j++) {
            const e = ls[j]!;
            if (e.evicted || Math.abs(e.record.eventTime - r.eventTime) > withinMs) continue;
            e.matched = true;
            emit(e.record, r, e.hold);
          }
        }
        buffers.add(r, false, hold, false);
      }

      if (side.state !== undefined) {
        try {
          side.state.checkOpenWindows(step, buffers.size);
        } catch (error) {
          subscriber.error(error); // past the bound: stop the topology, emit nothing more
          return;
        }
      }
      const next = Math.min(lb.watermark, rb.watermark);
      if (next > watermark) watermark = next;
      const emptied: Hold[] = [];
      const unmatched: Buffered<L>[] = [];
      buffers.evictThrough(watermark, (entry) => {
        if (entry.hold.live === 0) emptied.push(entry.hold);
        if (emitUnmatched && entry.isLeft && !entry.matched) unmatched.push(entry as Buffered<L>);
      });
      if (unmatched.length > 0) {
        // The heap does not order equal expiries; arrival order makes the output deterministic.
        unmatched.sort((a, b) => a.record.eventTime - b.record.eventTime || a.seq - b.seq);
        for (const entry of unmatched) emit(entry.record, undefined, entry.hold);
      }
      subscriber.next({ records: output, watermark: next, acks: contributors.size === 0 ? acks : withHolds(acks, contributors), side });
      // Downstream has retained what it keeps; holds with nothing left buffered let go.
      for (let i = 0; i < emptied.length; i++) releaseAll(emptied[i]!.acks);
    }

    function late(side: SideOutputs, record: StreamRecord<unknown>): void {
      side.late.push({ step, key: record.key, eventTime: record.eventTime, watermark, topic: record.topic, partition: record.partition, offset: record.offset, value: record.value });
    }

    return subscribePairs(left, right, subscriber, process);
  });
}

/** Both inputs normally share the source batch's side outputs; if not, the output carries both. */
function mergeSides(a: SideOutputs, b: SideOutputs): SideOutputs {
  if (a !== b) {
    a.late.push(...b.late.splice(0));
    a.deadLetters.push(...b.deadLetters.splice(0));
  }
  return a;
}

function withHolds(acks: AckToken[], holds: Set<Hold>): AckToken[] {
  const union = new Set<AckToken>(acks);
  for (const hold of holds) for (const token of hold.acks) union.add(token);
  return [...union];
}
