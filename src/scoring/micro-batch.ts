import type { MicroBatchScores, ScoringFailure, SettledBatch } from './micro-batcher.ts';

/** The micro-batches of micro-batcher.ts: rows copied into one Float32Array, and how their scores go back to the input batches. */

export interface Slice<T> {
  entry: SettledBatch<T> & { unscored: number };
  /** Index of the slice's first row in entry.rows. */
  entryStart: number;
  count: number;
}

export interface MicroBatch<T> {
  width: number;
  values: Float32Array;
  /** Event time per row (for drift buckets). */
  times: Float64Array;
  rows: number;
  slices: Slice<T>[];
}

export type Pending<T> = Slice<T>['entry'];

export const INITIAL_CAPACITY_ROWS = 64;

/** Copies one row into the micro-batch; returns why it cannot be scored, or undefined. */
export function writeRow(batch: MicroBatch<unknown>, values: ArrayLike<number>, eventTime: number): string | undefined {
  const { width } = batch;
  const offset = batch.rows * width;
  if (offset + width > batch.values.length) {
    const grown = new Float32Array(Math.max(width, batch.values.length * 2));
    grown.set(batch.values);
    batch.values = grown;
    const times = new Float64Array(grown.length / width);
    times.set(batch.times);
    batch.times = times;
  }
  for (let j = 0; j < width; j++) {
    const value = values[j]!;
    // NaN or Infinity would come back as a plausible-looking NaN score; reject the row instead.
    if (!Number.isFinite(value)) return `feature ${j} is ${value}`;
    batch.values[offset + j] = value;
  }
  batch.times[batch.rows] = eventTime;
  return undefined;
}

/** Hands each slice its probabilities (and challenger scores and tag), or marks its rows failed. */
export function settle<T>(batch: MicroBatch<T>, scores: MicroBatchScores | undefined, failure: ScoringFailure | undefined): void {
  let offset = 0;
  for (const { entry, entryStart, count } of batch.slices) {
    if (scores !== undefined) {
      entry.probabilities.set(scores.probabilities.subarray(offset, offset + count), entryStart);
      if (scores.challenger !== undefined) {
        entry.challenger ??= new Float32Array(entry.rows.length).fill(Number.NaN);
        entry.challenger.set(scores.challenger.subarray(offset, offset + count), entryStart);
      }
      if (scores.tag !== undefined) tagRows(entry, entryStart, count, scores.tag);
    } else {
      entry.rowErrors ??= new Array<ScoringFailure | undefined>(entry.rows.length);
      for (let i = 0; i < count; i++) entry.rowErrors[entryStart + i] = failure;
    }
    entry.unscored -= count;
    offset += count;
  }
}

/** One tag for the whole batch while its slices agree; per-row tags only once they differ. */
function tagRows(entry: SettledBatch<unknown>, start: number, count: number, tag: unknown): void {
  if (entry.tags === null && (entry.tag === undefined || entry.tag === tag)) {
    entry.tag = tag;
    return;
  }
  if (entry.tags === null) {
    // Rows settled before this slice carry the earlier tag (unscored rows are overwritten later).
    entry.tags = Array.from({ length: entry.rows.length }, () => entry.tag);
  }
  entry.tags.fill(tag, start, start + count);
}

/**
 * Takes the first sealed micro-batch, merged with those after it of the same width while the
 * rows stay within `maxRows` (copies of their rows; their slices in order, so settle() maps the
 * scores back unchanged). Undefined when none is sealed.
 */
export function takeMerged<T>(sealed: MicroBatch<T>[], maxRows: number): MicroBatch<T> | undefined {
  const first = sealed.shift();
  if (first === undefined) return undefined;
  let count = 0;
  let rows = first.rows;
  while (count < sealed.length && sealed[count]!.width === first.width && rows + sealed[count]!.rows <= maxRows) rows += sealed[count++]!.rows;
  if (count === 0) return first;
  const { width } = first;
  const merged: MicroBatch<T> = { width, values: new Float32Array(rows * width), times: new Float64Array(rows), rows: 0, slices: [] };
  for (const part of [first, ...sealed.splice(0, count)]) {
    merged.values.set(part.values.subarray(0, part.rows * width), merged.rows * width);
    merged.times.set(part.times.subarray(0, part.rows), merged.rows);
    for (const slice of part.slices) merged.slices.push(slice);
    merged.rows += part.rows;
  }
  return merged;
}
