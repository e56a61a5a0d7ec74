import type { ClickHouseClient } from '@clickhouse/client';

/**
 * Rows already serialised as JSON lines (without the last newline). The client encodes an
 * insert's values in one synchronous call: 25-50 ms for a 10,000-row chunk of raw payments on
 * the 2-core bench machine, every flush. A sink that serialises in slices between event-loop
 * turns hands it these instead, and the clients made by connectClickHouse pass their text
 * through (`encodedRowsJson`).
 */
export class EncodedRows {
  constructor(readonly text: string) {}
}

/** The client's `json` option: EncodedRows as their text, everything else as JSON.stringify does. */
export const encodedRowsJson = {
  stringify: (value: unknown): string => (value instanceof EncodedRows ? value.text : JSON.stringify(value)),
};

const passThrough = new WeakSet<ClickHouseClient>();

/** Marks a client created with `encodedRowsJson`. */
export function acceptsEncodedRows(client: ClickHouseClient): ClickHouseClient {
  passThrough.add(client);
  return client;
}

/** Whether the client passes EncodedRows through (else a sink must hand it plain values). */
export function takesEncodedRows(client: ClickHouseClient): boolean {
  return passThrough.has(client);
}

/** Rows serialised per slice: ~2-4 ms of CPU for raw payments, the longest a window close then waits. */
export const ROWS_PER_SLICE = 1_000;

/**
 * `rows` encoded (`encode`) and serialised as JSON lines a slice at a time, awaiting `turn()`
 * between slices. Returns the encoded values (for the insert token) and the text chunks.
 * `encode` errors propagate as thrown.
 */
export async function encodeInSlices<T>(rows: readonly T[], encode: (row: T) => unknown, turn: () => Promise<void>, slice = ROWS_PER_SLICE): Promise<{ values: unknown[]; chunks: EncodedRows[] }> {
  const values = new Array<unknown>(rows.length);
  const chunks: EncodedRows[] = [];
  for (let start = 0; start < rows.length; start += slice) {
    if (start > 0) await turn();
    const end = Math.min(rows.length, start + slice);
    let text = '';
    for (let i = start; i < end; i++) {
      const value = encode(rows[i]!);
      values[i] = value;
      text += i === start ? JSON.stringify(value) : `\n${JSON.stringify(value)}`;
    }
    chunks.push(new EncodedRows(text));
  }
  return { values, chunks };
}
