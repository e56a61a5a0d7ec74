import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Challenger } from '../scoring/assignment-scoring.ts';
import type { CircuitBreakerOptions } from '../scoring/circuit-breaker.ts';
import type { Fallback } from '../scoring/fallback.ts';
import type { Duration } from '../core/duration.ts';
import type { ScoringModel } from '../scoring/scoring-model.ts';

/** How the score operator (score.ts) calls its model and what it does when the model fails. */
export interface ScoreOptions<T, U> {
  /** The model's input for one record, in the model's feature order. */
  features: (value: T) => ArrayLike<number>;
  /**
   * The output record's value, from the probability served and the model that produced it; while
   * a canary or shadow runs (served models), `challenger` is the other model's score of the row.
   */
  output: (value: T, probability: number, model: ScoringModel, challenger?: Challenger) => U;
  /** Step name for dead letters, logs and metrics. Default 'score'. */
  name?: string;
  /** The topology's declared feature names, checked against the model's own list when it loads. */
  featureNames?: readonly string[];
  /** Most rows per model call. Default 4096 (a window close emits every key at once). */
  maxBatchRows?: number;
  /**
   * Longest a row waits for others to join its micro-batch. Default 10 ms. 0: an input batch's
   * rows go to the model at once, with no wait for other batches (rows that arrive while the
   * model is busy still share its next call): for steps whose rows come in batches of their own,
   * such as the closes of staggered windows.
   */
  maxDelayMs?: number;
  /**
   * A burst: an input batch of more rows than this (a window close of many keys) is scored and
   * emitted in chunks of this many rows, each leaving as soon as it is scored, sealed at once
   * rather than after maxDelayMs. Default 512.
   */
  burstRows?: number;
  /** Attempts per micro-batch before its rows go to the dead letters. Defaults: 3 attempts, 50 ms, 1 s. */
  retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /**
   * Stop calling a failing or slow model: after `failureThreshold` consecutive micro-batches that
   * failed (after retries) or took longer than `latencyBudget`, the circuit opens and rows skip
   * the model (to `fallback`, else the dead letters); after `coolDown` one probe micro-batch (one
   * attempt) tests the model: success closes the circuit, failure re-opens it for twice as long
   * (up to `maxCoolDown`). `now` replaces the clock in tests. Default: no breaker.
   */
  breaker?: CircuitBreakerOptions;
  /**
   * Answers for records the model did not score (circuit open, or their micro-batch failed after
   * retries): a row marked with its source, e.g. `{ ...f, probability: prior, source: 'fallback' }`,
   * or undefined to dead-letter the record (reason `scoring unavailable (circuit open)` or the
   * scoring error). With a fallback, the output type needs a `source` field: `output` must say
   * 'model' and the fallback anything else; a mislabelled row goes to the dead letters.
   */
  fallback?: Fallback<T, U>;
  /**
   * Freshness gate: a record whose event time is more than this before the processing time (the
   * source's clock, read once per batch) is not scored: the fallback answers it with reason
   * 'stale-inputs' (e.g. the key's batch prediction instead of a stale online score), counted in
   * tributary_scoring_fallback_rows_total{reason="stale-inputs"}. Usually the freshness SLO of
   * the step's input (defineTopology freshness). Needs `fallback`. Without a processing time (a
   * backfill's replay) nothing is stale. Default: no gate.
   */
  maxInputAge?: Duration;
  /** Replaces the source's clock for `maxInputAge` (tests, runOnArray). */
  processingTime?: () => number;
  metrics?: { metrics: Metrics; topology: string };
  logger?: Logger;
}
