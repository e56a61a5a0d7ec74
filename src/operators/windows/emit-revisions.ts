import type { AckToken } from '../../core/ack.ts';
import type { WindowSpec } from './window-spec.ts';
import type { CloseResult, ClosedWindow, WindowSlices } from './window-slices.ts';

/**
 * Emission with revisions, for specs with emit 'current' or an allowed lateness (the default,
 * 'final' without lateness, takes `WindowSlices.closeThrough` and never revises a row).
 *
 * Per batch, after its records were added and the watermark advanced:
 * - 'final': a window whose end + grace the watermark has now passed emits every key
 *   (revision 0); a window already past it and still within the allowed lateness emits the keys
 *   changed in this batch, each with its previous revision + 1 (0 for a key new to the window).
 * - 'current': every window emits the keys changed in this batch, with the next revision.
 * A window is final once the watermark passes end + grace + allowed lateness: its revisions are
 * forgotten and slices whose windows are all final are dropped (their acks released by the caller
 * after the emission, which carries the acks of every slice of every emitted window).
 *
 * @example
 * const emitter = new RevisionEmitter(spec, slices);
 * const { windows, acks, dropped } = emitter.advance(watermark); // windows carry `revisions`
 */
/** Checkpointed form of RevisionEmitter. */
export interface RevisionState {
  horizon: number;
  revisions: Map<number, Map<string, number>>;
}

export class RevisionEmitter<T> {
  /** Windows ending at or before this are final (horizon after the previous batch). */
  private horizon = -Infinity;
  /** Per window end still open to updates: the last revision emitted per key. */
  private readonly revisions = new Map<number, Map<string, number>>();

  constructor(
    private readonly spec: WindowSpec,
    private readonly slices: WindowSlices<T>,
  ) {}

  /** Revision bookkeeping as checkpointable data. */
  snapshot(): RevisionState {
    return { horizon: this.horizon, revisions: this.revisions };
  }

  restore(state: RevisionState): void {
    this.horizon = state.horizon;
    this.revisions.clear();
    for (const [end, keys] of state.revisions) this.revisions.set(end, keys);
  }

  /** Emits what changed or closed in the batch just added, for the watermark after it. */
  advance(watermark: number): CloseResult {
    const { hopMs, sizeMs, graceMs, allowedLatenessMs } = this.spec;
    const final = this.spec.emit === 'final';
    const limit = watermark - graceMs;
    const horizon = limit - allowedLatenessMs;
    // 'final': windows closing now emit every key; 'current' never has anything pending at close.
    const closing = final ? this.slices.closingEnds(limit) : [];
    const closingSet = new Set(closing);
    const changed = new Map<number, Set<string>>();
    for (const slice of this.slices.takeTouched()) {
      for (let end = slice.start + hopMs; end <= slice.start + sizeMs; end += hopMs) {
        // Final before this batch: the batch's records were not accepted into it.
        if (end <= this.horizon) continue;
        if (final && (end > limit || closingSet.has(end))) continue;
        let keys = changed.get(end);
        if (keys === undefined) changed.set(end, (keys = new Set()));
        for (const key of slice.changed!) keys.add(key);
      }
      slice.changed!.clear();
    }
    const ends = closing.length === 0 ? [...changed.keys()] : [...new Set([...closing, ...changed.keys()])];
    ends.sort((a, b) => a - b);
    const windows: ClosedWindow[] = [];
    const acks = new Set<AckToken>();
    const traces = this.slices.traceCollector();
    for (const end of ends) {
      const keys = changed.get(end);
      const window = keys === undefined ? this.slices.buildWindow(end) : { start: end - sizeMs, end, states: this.slices.mergeKeys(end, keys) };
      let last = this.revisions.get(end);
      if (last === undefined) this.revisions.set(end, (last = new Map()));
      const revisions = new Map<string, number>();
      for (const key of window.states.keys()) {
        const revision = (last.get(key) ?? -1) + 1;
        last.set(key, revision);
        revisions.set(key, revision);
      }
      windows.push({ ...window, revisions });
      this.slices.collectAcks(end, acks, traces);
    }
    if (horizon > this.horizon) {
      this.horizon = horizon;
      for (const end of this.revisions.keys()) if (end <= horizon) this.revisions.delete(end);
    }
    const dropped = this.slices.dropThrough(horizon);
    return { windows, acks: [...acks], dropped, traces: traces ?? [] };
  }
}
