/** One difference the parity audit found: where, which key, window and column, and both values. */
export interface ParityDifference {
  /** 'clickhouse': the feature table; 'redis': the online state. */
  store: 'clickhouse' | 'redis';
  key: string;
  /** The window's time (its end, epoch ms). */
  window: number;
  /** A column, or '(row)' for a row one side lacks, '(window)' for Redis holding another window. */
  column: string;
  /** undefined: missing on that side. */
  stored: unknown;
  recomputed: unknown;
}

/** Columns a store adds to the feature row, not computed by the feature code. */
export const BOOKKEEPING_COLUMNS = new Set(['revision', 'origin']);

/**
 * Numbers agree within 1e-9 relative (ClickHouse 18.16 parses decimal floats with up to one ulp
 * of error, and an integer column may come back as a string); everything else must be equal.
 */
export function sameValue(stored: unknown, recomputed: unknown): boolean {
  if (typeof recomputed === 'number' && (typeof stored === 'number' || (typeof stored === 'string' && stored.trim() !== ''))) {
    const a = Number(stored);
    if (Number.isNaN(a) || Number.isNaN(recomputed)) return Number.isNaN(a) && Number.isNaN(recomputed);
    return a === recomputed || Math.abs(a - recomputed) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(recomputed));
  }
  if (stored === null || recomputed === null) return stored === recomputed;
  return JSON.stringify(stored) === JSON.stringify(recomputed);
}

/** The columns of `recomputed` (the feature code's output) whose stored value differs. */
export function rowDifferences(store: ParityDifference['store'], key: string, window: number, stored: Record<string, unknown>, recomputed: Record<string, unknown>, columns: Iterable<string>): ParityDifference[] {
  const differences: ParityDifference[] = [];
  for (const column of columns) {
    if (BOOKKEEPING_COLUMNS.has(column)) continue;
    if (!sameValue(stored[column], recomputed[column])) differences.push({ store, key, window, column, stored: stored[column], recomputed: recomputed[column] });
  }
  return differences;
}

/** A value as the report prints it: JSON, or 'missing'. */
export function printable(value: unknown): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}

/** One line per difference: store, key, window (ISO), column, stored and recomputed value. */
export function formatDifference(d: ParityDifference): string {
  return `${d.store}\t${d.key}\t${new Date(d.window).toISOString()}\t${d.column}\tstored=${printable(d.stored)}\trecomputed=${printable(d.recomputed)}`;
}
