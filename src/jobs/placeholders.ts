import { ConfigError } from '../core/errors.ts';
import { toMillis } from '../core/duration.ts';

/**
 * Time placeholders in a job's command, expanded when the job runs, to epoch milliseconds:
 *
 *   {now}         the run's time: for a scheduled run, the time it was due (not when it started,
 *                 so consecutive runs tile exactly even when one waited in the queue)
 *   {now-1h}      an offset: + or - a duration (ms, s, m, h, d); several chain: {now-1d+2h}
 *   {now-1h/h}    then rounded down to a whole s, m, h or d (UTC): the previous full hour starts
 *                 at {now-1h/h} and ends at {now/h}
 *
 * e.g. `backfill topologies/card-fraud.ts --from {now-1h/h} --to {now/h}` on `0 * * * *` covers
 * each full hour once. Anything else in braces is left as written.
 */
const PLACEHOLDER = /\{now((?:[+-]\d+(?:\.\d+)?(?:ms|s|m|h|d))*)(?:\/(s|m|h|d))?\}/g;
const CANDIDATE = /\{now[^}]*\}/g;
const OFFSET = /([+-])(\d+(?:\.\d+)?(?:ms|s|m|h|d))/g;
const ROUND_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The command with every placeholder replaced by epoch ms for a run at `now`. */
export function expandPlaceholders(args: readonly string[], now: number): string[] {
  return args.map((arg) =>
    arg.replace(PLACEHOLDER, (_match, offsets: string, round: string | undefined) => {
      let time = now;
      for (const [, sign, duration] of offsets.matchAll(OFFSET)) time += (sign === '-' ? -1 : 1) * toMillis(duration!);
      if (round !== undefined) time = Math.floor(time / ROUND_MS[round]!) * ROUND_MS[round]!;
      return String(time);
    }),
  );
}

/** Throws a ConfigError naming `field` for a `{now...}` that is not a valid placeholder (a typo would otherwise reach the job verbatim). */
export function checkPlaceholders(args: readonly string[], field: string): void {
  for (const arg of args) {
    for (const [candidate] of arg.matchAll(CANDIDATE)) {
      if (candidate.replace(PLACEHOLDER, '') !== '') {
        throw new ConfigError(field, `"${candidate}" is not a time placeholder`, 'write {now}, {now-1h}, {now+30m}, {now-1d/d} (offsets in ms, s, m, h, d; /unit rounds down)');
      }
    }
  }
}
