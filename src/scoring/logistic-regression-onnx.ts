import { ConfigError } from '../core/errors.ts';
import type { LogisticRegressionModel } from './logistic-regression.ts';
import { encodeOnnxModel } from './onnx-builder.ts';
import { FEATURES_METADATA_KEY } from './onnx-metadata.ts';

export const LOGISTIC_REGRESSION_INPUT = 'features';
export const LOGISTIC_REGRESSION_OUTPUT = 'probability';

/**
 * Writes a logistic regression as an ONNX model:
 *   features [batch, F] -> Sub(mean) -> Div(scale) -> MatMul(weights [F, 1]) -> Add(bias) -> Sigmoid -> probability [batch, 1]
 * Standardisation lives in the graph, so callers feed raw feature values. The feature names are
 * stored in metadata_props under 'features' (a JSON array) for the engine's load-time check.
 */
export function logisticRegressionToOnnx(
  model: Pick<LogisticRegressionModel, 'weights' | 'bias' | 'mean' | 'scale' | 'featureNames'>,
  options: { producerVersion?: string; docString?: string } = {},
): Uint8Array {
  const featureCount = model.featureNames.length;
  checkShape(model, featureCount);
  return encodeOnnxModel({
    producerName: 'tributary',
    producerVersion: options.producerVersion ?? '0.1.0',
    docString: options.docString ?? `logistic regression over ${featureCount} features: ${model.featureNames.join(', ')}`,
    metadata: { [FEATURES_METADATA_KEY]: JSON.stringify(model.featureNames), model_type: 'logistic_regression' },
    graph: {
      name: 'logistic_regression',
      initializers: [
        { name: 'mean', dims: [featureCount], values: model.mean },
        { name: 'scale', dims: [featureCount], values: model.scale },
        { name: 'weights', dims: [featureCount, 1], values: model.weights },
        { name: 'bias', dims: [1], values: [model.bias] },
      ],
      nodes: [
        { opType: 'Sub', inputs: [LOGISTIC_REGRESSION_INPUT, 'mean'], outputs: ['centered'], name: 'center' },
        { opType: 'Div', inputs: ['centered', 'scale'], outputs: ['standardized'], name: 'standardize' },
        { opType: 'MatMul', inputs: ['standardized', 'weights'], outputs: ['weighted'], name: 'weigh' },
        { opType: 'Add', inputs: ['weighted', 'bias'], outputs: ['logit'], name: 'add_bias' },
        { opType: 'Sigmoid', inputs: ['logit'], outputs: [LOGISTIC_REGRESSION_OUTPUT], name: 'sigmoid' },
      ],
      inputs: [{ name: LOGISTIC_REGRESSION_INPUT, shape: ['batch', featureCount] }],
      outputs: [{ name: LOGISTIC_REGRESSION_OUTPUT, shape: ['batch', 1] }],
    },
  });
}

function checkShape(model: Pick<LogisticRegressionModel, 'weights' | 'bias' | 'mean' | 'scale'>, featureCount: number): void {
  const fix = 'export the model returned by trainLogisticRegression unchanged';
  if (featureCount === 0) throw new ConfigError('featureNames', 'the model has no features', fix);
  for (const [field, values] of [['weights', model.weights], ['mean', model.mean], ['scale', model.scale]] as const) {
    if (values.length !== featureCount) throw new ConfigError(field, `${values.length} values for ${featureCount} feature names`, fix);
    if (!values.every(Number.isFinite)) throw new ConfigError(field, 'contains a non-finite value', fix);
  }
  if (!model.scale.every((value) => value !== 0)) throw new ConfigError('scale', 'contains 0 (division by zero in the graph)', 'use scale 1 for a constant feature');
  if (!Number.isFinite(model.bias)) throw new ConfigError('bias', `${model.bias} is not finite`, fix);
}
