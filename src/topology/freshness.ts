import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';

/** How stale an output's records may be: a duration, or one with the share that must meet it. */
export type FreshnessSlo = Duration | { maxAge: Duration; objective?: number };

/** Per pipeline output ('raw' too): `{ features: '2m', predictions: { maxAge: '2m', objective: 0.999 } }`. */
export type FreshnessSlos = Record<string, FreshnessSlo>;

/** An SLO in numbers. */
export interface FreshnessTarget {
  maxAgeMs: number;
  /** Share of records that must be emitted within maxAge (default 0.99). */
  objective: number;
}

export const DEFAULT_FRESHNESS_OBJECTIVE = 0.99;

/**
 * Checks a topology's freshness SLOs and turns them into numbers. A record's age is processing
 * time (the source's clock) minus its event time, when the pipeline emits it on the output.
 */
export function freshnessTargets(slos: FreshnessSlos | undefined): Map<string, FreshnessTarget> {
  const targets = new Map<string, FreshnessTarget>();
  if (slos === undefined) return targets;
  if (typeof slos !== 'object' || slos === null || Array.isArray(slos)) {
    throw new ConfigError('freshness', 'must map output names to durations', "write freshness: { features: '2m' }");
  }
  for (const [output, slo] of Object.entries(slos)) {
    const field = `freshness.${output}`;
    const spec = typeof slo === 'object' && slo !== null ? slo : { maxAge: slo };
    const maxAgeMs = toMillis(spec.maxAge, field);
    if (maxAgeMs <= 0) throw new ConfigError(field, 'is 0', "give how old a record may be, e.g. '2m'");
    const objective = spec.objective ?? DEFAULT_FRESHNESS_OBJECTIVE;
    if (!(objective > 0 && objective < 1)) throw new ConfigError(`${field}.objective`, `${objective} is not between 0 and 1 (exclusive)`, 'use e.g. 0.99 (99% of records within maxAge)');
    targets.set(output, { maxAgeMs, objective });
  }
  return targets;
}
