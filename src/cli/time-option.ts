import { ConfigError } from '../core/errors.ts';

/**
 * A --from/--to time: epoch milliseconds, or ISO-8601 as a date (midnight UTC) or a date and
 * time with Z or an offset. A time without a zone is refused: it would depend on the machine.
 */
export function parseTime(text: string, option: string): number {
  const trimmed = text.trim();
  const fix = 'give ISO-8601 with a zone (2026-01-31T00:00:00Z, 2026-01-31T01:00:00+01:00), a date (2026-01-31, midnight UTC) or epoch milliseconds';
  if (/^-?\d+$/.test(trimmed)) {
    const ms = Number(trimmed);
    if (!Number.isSafeInteger(ms) || Math.abs(ms) > 8.64e15) throw new ConfigError(option, `${trimmed} is out of range`, fix);
    return ms;
  }
  const date = /^\d{4}-\d{2}-\d{2}$/.test(trimmed);
  const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(trimmed);
  if (!date && !dateTime) {
    const zoneless = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(trimmed);
    throw new ConfigError(option, zoneless ? `"${text}" has no time zone` : `"${text}" is not a time`, fix);
  }
  const ms = Date.parse(trimmed);
  const [year, month, day] = trimmed.slice(0, 10).split('-').map(Number);
  // Date.parse rolls 2026-02-30 over to March: refuse dates that do not exist.
  const calendar = new Date(Date.UTC(year!, month! - 1, day!));
  if (Number.isNaN(ms) || calendar.getUTCMonth() !== month! - 1 || calendar.getUTCDate() !== day) throw new ConfigError(option, `"${text}" is not a valid date`, fix);
  return ms;
}

/** parseTime for an optional option: undefined when it was not given. */
export function parseOptionalTime(text: string | undefined, option: string): number | undefined {
  return text === undefined ? undefined : parseTime(text, option);
}
