import { errorMessage } from '../core/errors.ts';
import type { ModelEnvironment } from '../scoring/served-model.ts';
import type { AnyTopology } from '../topology/define-topology.ts';

export interface RunningModels {
  close(): Promise<void>;
}

/**
 * Starts the served models a topology declares (`models`): each opens the registry, loads its
 * live (and candidate) version and polls for promotions. Resolves once every one serves, so the
 * first record is scored by a loaded model; if one fails, those started are stopped and the error thrown.
 */
export async function startModels(topology: AnyTopology, environment: ModelEnvironment): Promise<RunningModels> {
  const models = topology.models ?? [];
  const started: typeof models = [];
  const stopAll = () => Promise.all(started.splice(0).map((model) => model.stop().catch((error: unknown) => environment.logger.warn({ model: model.options.model, err: errorMessage(error) }, 'stopping a served model failed'))));
  try {
    for (const model of models) {
      await model.start(environment);
      started.push(model);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return { close: async () => void (await stopAll()) };
}
