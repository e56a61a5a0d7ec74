import type { ModelServing, ServingAssignment } from './model-serving.ts';
import { SharedModel, type ModelSource } from './shared-model.ts';

/**
 * One model, never swapped: what `score(path | model | factory)` serves. The model loads on the
 * first subscription and is shared with every score step over the same file (SharedModel).
 */
export function fixedServing(source: ModelSource): ModelServing {
  const shared = SharedModel.of(source);
  let assignment: ServingAssignment | undefined;
  return {
    description: typeof source === 'string' ? source : 'model',
    current: () => assignment,
    async subscribe() {
      const live = await shared.acquire();
      assignment ??= { live, candidate: undefined, entityId: () => '', featureVersion: '' };
      return assignment;
    },
    unsubscribe: () => shared.release(),
    hold: () => undefined,
    release: () => undefined,
  };
}
