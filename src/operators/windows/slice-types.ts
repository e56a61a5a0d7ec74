import type { AckToken } from '../../core/ack.ts';
import type { KeyedAccumulators } from './keyed-accumulators.ts';
import type { TraceContext } from '../../observability/tracing/pipeline-tracer.ts';

/**
 * Partial accumulators of every key over one slice [start, start + hop) of event time. A
 * hopping window of size/hop slices is the merge of its slices, so a record updates one
 * accumulator instead of size/hop (design rule 6); for tumbling windows the slice is the window.
 */
export interface Slice {
  start: number;
  /** Per key (in first-seen order), one accumulator per aggregation. */
  states: Map<string, unknown[]>;
  /** Per partition, the earliest source batch with records in this slice (holdEarliest): retained until its last window is emitted. */
  acks: AckToken[];
  /** BatchSequence number of the last batch with records in this slice (0: none). */
  lastBatch: number;
  /** Revision-tracking specs only (see emit-revisions.ts): keys changed in the current batch. */
  changed: Set<string> | null;
  /** Revision-tracking specs only: each key's first-seen sequence, for the output order of a subset. */
  seq: Map<string, number> | null;
  /** Tracing only: spans of traced batches whose records are in this slice (their windows carry them on). */
  traces?: TraceContext[];
}

/** A window being emitted (closed, or updated in a revision-tracking spec), with the merged state of each key. */
export interface ClosedWindow {
  start: number;
  end: number;
  /** Keys in first-seen order: earliest slice first, then the slice's own first-seen order. */
  states: Map<string, unknown[]>;
  /** Revision of each key's row; absent: every row is revision 0. */
  revisions?: Map<string, number>;
}

export interface CloseResult {
  windows: ClosedWindow[];
  /** Ack tokens of every slice in a closed window (each once): the emitted rows cover them. */
  acks: AckToken[];
  /** Slices whose last window was emitted: release their acks once downstream has retained. */
  dropped: Slice[];
  /** Tracing only: the spans of traced batches whose records are in the emitted windows. */
  traces: TraceContext[];
}

/** Checkpointed form of WindowSlices. */
export interface WindowSlicesState {
  closedThrough: number;
  nextSeq: number;
  slices: Array<{ start: number; states: KeyedAccumulators; seq: Map<string, number> | null }>;
}
