import type { QueryLimits } from './sql-config.ts';
import { SqlQueryError } from './sql-errors.ts';

/** Formats an analyst can ask for (ClickHouse's names). */
export const RESULT_FORMATS = ['JSON', 'JSONEachRow', 'CSV', 'CSVWithNames', 'TabSeparated', 'TabSeparatedWithNames'] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

export const CONTENT_TYPES: Record<ResultFormat, string> = {
  JSON: 'application/json; charset=utf-8',
  JSONEachRow: 'application/x-ndjson; charset=utf-8',
  CSV: 'text/csv; charset=utf-8',
  CSVWithNames: 'text/csv; charset=utf-8',
  TabSeparated: 'text/tab-separated-values; charset=utf-8',
  TabSeparatedWithNames: 'text/tab-separated-values; charset=utf-8',
};

export function parseFormat(text: string | undefined): ResultFormat {
  if (text === undefined || text === '') return 'JSON';
  const format = RESULT_FORMATS.find((f) => f.toLowerCase() === text.toLowerCase());
  if (format === undefined) throw new SqlQueryError('BAD_REQUEST', `unknown format "${text}": use one of ${RESULT_FORMATS.join(', ')}`);
  return format;
}

/** Whole seconds: max_execution_time is in seconds (18.16 takes no fractions). */
export function executionSeconds(limits: Pick<QueryLimits, 'timeoutMs'>): number {
  return Math.max(1, Math.ceil(limits.timeoutMs / 1000));
}

/** How long a caller waits for an answer at most: the server's own limit plus a second. */
export function answerDeadlineMs(limits: Pick<QueryLimits, 'timeoutMs'>): number {
  return executionSeconds(limits) * 1000 + 1000;
}

/**
 * Rows in a result, for the audit trail: JSON's own count, else lines (less the header line of
 * the WithNames formats); CSV lines are counted outside quoted fields, which may hold newlines.
 */
export function resultRows(text: string, format: ResultFormat): number | undefined {
  if (format === 'JSON') {
    const match = /"rows":\s*(\d+)/.exec(text.slice(-4096));
    return match === null ? undefined : Number(match[1]);
  }
  let lines = 0;
  if (format === 'CSV' || format === 'CSVWithNames') {
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 34) quoted = !quoted;
      else if (c === 10 && !quoted) lines++;
    }
  } else {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
  }
  return format.endsWith('WithNames') ? Math.max(0, lines - 1) : lines;
}
