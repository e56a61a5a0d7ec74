import { ConfigError } from './errors.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as milliseconds, or as text such as '500ms', '10s', '1m', '2h', '1d'. */
export type Duration = number | string;

/** Parses a Duration to milliseconds; `field` names the setting in the error message. */
export function toMillis(duration: Duration, field = 'duration'): number {
  if (typeof duration === 'number') {
    if (Number.isFinite(duration) && duration >= 0) return duration;
    throw new ConfigError(field, `${duration} is not a non-negative number of milliseconds`, "use e.g. 60000 or '1m'");
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(duration);
  if (!match) {
    throw new ConfigError(field, `"${duration}" is not a duration`, "write a number and a unit: '500ms', '10s', '1m', '2h' or '1d'");
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}
