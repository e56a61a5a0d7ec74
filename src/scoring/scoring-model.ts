import { ConfigError } from '../core/errors.ts';

/**
 * What the score operator needs from a model. OnnxModel implements it; tests and fallbacks
 * (batch predictions, a JS model) can too.
 */
export interface ScoringModel {
  readonly name: string;
  readonly version: string;
  /** Feature names in input order, when the model declares them. */
  readonly featureNames: readonly string[] | undefined;
  /** Values per row the model expects; undefined when the model leaves the width symbolic. */
  readonly featureCount: number | undefined;
  /**
   * Scores `rows` rows stored row-major in `features` (width = featureCount); resolves to one
   * probability per row. Rejects with a TributaryError (retriable when trying again may help).
   */
  score(features: Float32Array, rows: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * Checks a topology's declared feature vector against the model's own list, so a reordered or
 * renamed feature fails at startup instead of producing plausible wrong scores.
 */
export function checkFeatureNames(model: ScoringModel, declared: readonly string[]): void {
  const fix = `declare the features in the model's order (${model.featureNames?.join(', ') ?? `${model.featureCount} values`}) or retrain the model`;
  if (model.featureCount !== undefined && declared.length !== model.featureCount) {
    throw new ConfigError('score.featureNames', `${declared.length} features declared but model ${model.name}@${model.version} takes ${model.featureCount}`, fix);
  }
  const expected = model.featureNames;
  if (expected === undefined) return;
  const mismatch = declared.findIndex((name, i) => name !== expected[i]);
  if (mismatch >= 0 || declared.length !== expected.length) {
    const at = mismatch >= 0 ? mismatch : Math.min(declared.length, expected.length);
    throw new ConfigError(
      'score.featureNames',
      `feature ${at} is "${declared[at] ?? '(none)'}" but model ${model.name}@${model.version} expects "${expected[at] ?? '(none)'}"`,
      fix,
    );
  }
}
