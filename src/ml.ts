/**
 * `tributary/ml`: the model lifecycle. Training, ONNX export, the model registry in ClickHouse,
 * promotion, canary, shadow and rollback, comparison reports, and batch scoring.
 */
export { OnnxModel } from './scoring/onnx-model.ts';
export { trainLogisticRegression, evaluate, predictProbability, type LogisticRegressionModel } from './scoring/logistic-regression.ts';
export { logisticRegressionToOnnx } from './scoring/logistic-regression-onnx.ts';
export { ServedModel } from './scoring/served-model.ts';
export { inCanary, canaryBucket, type ModelServing, type ServingAssignment } from './scoring/model-serving.ts';
export { MODEL_STATUSES, type ModelRegistry, type ModelVersion, type ModelStatus, type ModelMetrics, type NewModelVersion } from './registry/model-registry.ts';
export { clickhouseModelRegistry } from './registry/clickhouse-model-registry.ts';
export { promote, startCanary, startShadow, rollback, bootstrapLive, servingPlan } from './registry/lifecycle.ts';
export { compareModels, compareSql } from './registry/compare-report.ts';
export { writeModelFile, defaultModelDirectory, modelFilePath } from './registry/model-files.ts';
export { trainFromClickHouse } from './training/train-from-clickhouse.ts';
export { scoreBatch, batchPredictionKey, type ScoreBatchOptions, type ScoreBatchResult } from './batch/batch-scoring.ts';
export { computeBaseline, SCORE_FEATURE, type DriftBaseline, type BaselineHistogram } from './registry/drift-baseline.ts';
export { populationStabilityIndex, binnedKsDistance, PSI_EPSILON, DRIFT_PSI_THRESHOLD } from './registry/drift-statistics.ts';
export { BaselineStore } from './registry/baseline-store.ts';
export { computeOutcomes, OutcomesTable, type ModelOutcome, type OutcomeOptions } from './registry/model-outcomes.ts';
export { outcomesSql, ECE_BINS } from './registry/outcomes-sql.ts';
