import { toMillis, type Duration } from '../core/duration.ts';
import { TributaryError } from '../core/errors.ts';
import type { ScoringFailure } from './micro-batcher.ts';

/**
 * A row whose inputs are older than the score step's `maxInputAge`: not sent to the model, but
 * to the fallback with reason 'stale-inputs' (a batch prediction instead of a stale online score).
 */
export class StaleInputsError extends TributaryError {
  constructor(step: string, maxInputAge: Duration) {
    super(`${step}: inputs older than maxInputAge (${typeof maxInputAge === 'number' ? `${maxInputAge} ms` : maxInputAge}) by processing time`, { retriable: false, code: 'STALE_INPUTS' });
  }
}

/**
 * A score step's freshness gate: rows whose event time is more than `maxInputAge` before the
 * processing time are stale. Processing time is the source's clock (read once per input batch),
 * from the running engine or given by the caller; without one (a backfill's replay, runOnArray
 * without `processingTime`) nothing is stale, since there is no "now" to be late for.
 */
export class FreshnessGate {
  /** The failure every stale row carries (one object per step, no allocation per row). */
  readonly failure: ScoringFailure;
  private readonly maxInputAgeMs: number;
  private clock: (() => number) | undefined;

  constructor(step: string, maxInputAge: Duration, clock?: () => number) {
    this.maxInputAgeMs = toMillis(maxInputAge, `${step}.maxInputAge`);
    const error = new StaleInputsError(step, maxInputAge);
    this.failure = { message: error.message, error };
    this.clock = clock;
  }

  /** Takes the engine's clock unless one was given. */
  adopt(clock: (() => number) | undefined): void {
    this.clock ??= clock;
  }

  /** Event time below which a row is stale now; -Infinity when there is no clock. */
  staleBefore(): number {
    return this.clock === undefined ? -Infinity : this.clock() - this.maxInputAgeMs;
  }
}
