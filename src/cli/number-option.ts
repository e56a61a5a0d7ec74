import { toMillis } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';

/**
 * A whole-number option from 1 to `max`: digits only (no '1e4', no '1.5'), or a ConfigError that
 * names the option, what it counts and an example (`fix`).
 */
export function parseWholeOption(text: string, option: string, what: string, fix: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new ConfigError(option, `"${text}" is not ${what}`, fix);
  return n;
}

/** A duration option: text such as '5m' or '90s', or milliseconds ('120000'). */
export function parseDurationOption(text: string, option: string): number {
  const trimmed = text.trim();
  return toMillis(/^\d+$/.test(trimmed) ? Number(trimmed) : trimmed, option);
}
