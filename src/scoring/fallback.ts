import { ConfigError, RecordError } from '../core/errors.ts';
import { CircuitOpenError } from './circuit-breaker.ts';
import { StaleInputsError } from './freshness-gate.ts';
import type { ScoringFailure } from './micro-batcher.ts';

/**
 * Where an output row's score came from: 'model' (scored by the model just now) or a fallback
 * ('batch': the key's latest batch prediction; 'fallback': a default such as the training prior).
 */
export type ScoreSource = 'model' | 'batch' | 'fallback';

/** Why the score operator asks the fallback instead of the model. */
export interface FallbackReason {
  /**
   * 'circuit-open': the model was not called; 'model-error': its micro-batch failed after
   * retries; 'stale-inputs': the row's inputs were older than the step's maxInputAge, so the
   * model was not asked (a stale online score would look fresh).
   */
  kind: FallbackReasonKind;
  /** For logs and rows: 'scoring unavailable (circuit open)', the scoring error, or the freshness gate's reason. */
  message: string;
}

export type FallbackReasonKind = 'circuit-open' | 'model-error' | 'stale-inputs';

/**
 * The row a fallback returns: the operator's output type, marked with a `source` other than
 * 'model'. An output type without a `source` field admits no fallback row at all (only undefined),
 * so every row of a stream with a fallback says where its score came from. (The literal source
 * sits outside U so `source: 'fallback'` in an object literal keeps its literal type while U is
 * still being inferred from `output`.)
 */
export type FallbackRow<U> = U & { source: Exclude<ScoreSource, 'model'> } & SourceField<U>;

/** Requires a `source` field in U, with an error message that says so. */
type SourceField<U> = U extends { source: unknown } ? unknown : { 'a fallback needs a `source` field in the output type': never };

/**
 * Answers for a record the model did not score: a marked row, or undefined to send the record to
 * the dead letters. Synchronous: serve batch predictions from a lookup table kept in memory
 * (like `enrich`), not from a query per record.
 */
export type Fallback<T, U> = (value: T, reason: FallbackReason) => FallbackRow<NoInfer<U>> | undefined;

/** One reason per failure: every row of a failed micro-batch (or every stale row of a step) shares it. */
const reasons = new WeakMap<ScoringFailure, FallbackReason | null>();

/**
 * Why a failed row may be answered by the fallback; undefined for a topology bug (rows of the
 * wrong width for the model), which goes to the dead letters rather than being papered over.
 */
export function fallbackReason(failure: ScoringFailure): FallbackReason | undefined {
  let reason = reasons.get(failure);
  if (reason === undefined) reasons.set(failure, (reason = reasonOf(failure)));
  return reason ?? undefined;
}

function reasonOf(failure: ScoringFailure): FallbackReason | null {
  if (failure.error instanceof ConfigError) return null;
  if (failure.error instanceof StaleInputsError) return { kind: 'stale-inputs', message: failure.message };
  return failure.error instanceof CircuitOpenError ? { kind: 'circuit-open', message: failure.message } : { kind: 'model-error', message: failure.message };
}

/**
 * Checks that a row says where its score came from: 'model' for rows the model scored, anything
 * else (a string) for fallback rows. Throws, so the caller dead-letters a mislabelled row.
 */
export function checkSource(row: unknown, scoredBy: 'model' | 'fallback'): void {
  const source = typeof row === 'object' && row !== null ? (row as { source?: unknown }).source : undefined;
  if (scoredBy === 'model' ? source === 'model' : typeof source === 'string' && source !== 'model') return;
  const expected = scoredBy === 'model' ? "source: 'model'" : "a source other than 'model' (e.g. source: 'fallback')";
  throw new RecordError(`the row says source=${JSON.stringify(source) ?? 'undefined'}, but a row scored by the ${scoredBy} must say ${expected}`, 'SCORE_SOURCE');
}
