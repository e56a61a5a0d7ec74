import { errorMessage, ScoringError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { MicroBatchScores } from './micro-batcher.ts';
import { inCanary, type ServingAssignment } from './model-serving.ts';
import type { ScoringModel } from './scoring-model.ts';

/** The other model's score of a row while a canary or shadow runs. */
export interface Challenger {
  model: ScoringModel;
  probability: number;
}

/**
 * Scores one micro-batch with an assignment: `scoreLive` (retries, circuit breaker) for the live
 * model, then one attempt of the candidate's. A failing candidate never fails the rows: they are
 * served by the live model and have no challenger score (logged, counted by the caller).
 */
export async function scoreWithAssignment(
  assignment: ServingAssignment,
  features: Float32Array,
  rows: number,
  scoreLive: (model: ScoringModel) => Promise<Float32Array>,
  onCandidateError: (error: unknown) => void,
): Promise<MicroBatchScores> {
  const probabilities = await scoreLive(assignment.live);
  const candidate = assignment.candidate;
  if (candidate === undefined) return { probabilities, tag: assignment };
  try {
    const challenger = await candidate.model.score(features, rows);
    if (challenger.length >= rows) return { probabilities, challenger, tag: assignment };
    onCandidateError(new ScoringError(`candidate returned ${challenger.length} probabilities for ${rows} rows`));
  } catch (error) {
    onCandidateError(error);
  }
  return { probabilities, tag: withoutCandidate(assignment) };
}

const liveOnly = new WeakMap<ServingAssignment, ServingAssignment>();
/** The same assignment without its candidate (one object per assignment, so tags stay comparable). */
function withoutCandidate(assignment: ServingAssignment): ServingAssignment {
  let only = liveOnly.get(assignment);
  if (only === undefined) liveOnly.set(assignment, (only = { ...assignment, candidate: undefined }));
  return only;
}

/** What a row serves: the canary's score for the keys in the canary, else the live one; the other is the challenger. */
export interface ServedScore {
  model: ScoringModel;
  probability: number;
  challenger: Challenger | undefined;
}

export function servedScore(assignment: ServingAssignment, value: unknown, live: number, candidateScore: number | undefined): ServedScore {
  const candidate = assignment.candidate;
  if (candidate === undefined || candidateScore === undefined || Number.isNaN(candidateScore)) return { model: assignment.live, probability: live, challenger: undefined };
  if (candidate.mode === 'canary' && inCanary((assignment.entityId as (v: unknown) => string)(value), candidate.percent)) {
    return { model: candidate.model, probability: candidateScore, challenger: { model: assignment.live, probability: live } };
  }
  return { model: assignment.live, probability: live, challenger: { model: candidate.model, probability: candidateScore } };
}

export function logCandidateError(logger: Logger | undefined, step: string, assignment: ServingAssignment, error: unknown): void {
  const candidate = assignment.candidate?.model;
  logger?.warn({ step, candidate: candidate && `${candidate.name}@${candidate.version}`, err: errorMessage(error) }, 'candidate model failed: its rows are served by the live model without a challenger score');
}
