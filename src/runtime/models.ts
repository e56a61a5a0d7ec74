import { errorMessage } from '../core/errors.ts';
import type { ModelEnvironment } from '../scoring/served-model.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import type { ModelQualityStats } from './stats-snapshot.ts';

/** Closed drift buckets per model in the dashboard's snapshot (it is sent once a second). */
const DASHBOARD_BUCKETS = 30;

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

/** The dashboard's view of the served models' quality: drift buckets (the latest 30) and outcome metrics. */
export function modelQuality(topology: AnyTopology): ModelQualityStats[] {
  const stats: ModelQualityStats[] = [];
  for (const model of topology.models ?? []) {
    const snapshot = model.qualitySnapshot();
    if (snapshot === undefined) continue;
    stats.push({
      model: snapshot.model,
      live: snapshot.live,
      driftWatched: snapshot.driftWatched,
      driftThreshold: snapshot.driftThreshold,
      drift: snapshot.drift.slice(-DASHBOARD_BUCKETS).map(({ version, bucketStart, bucketEnd, rows, features }) => ({ version, bucketStart, bucketEnd, rows, features: features.map(({ name, psi, ks }) => ({ name, psi: finite(psi), ks: finite(ks) })) })),
      outcomes: snapshot.outcomes.map(({ version, day, rows, positives, auc, logLoss, ece, precisionAtK, k }) => ({ version, day, rows, positives, auc, logLoss, ece, precisionAtK, k })),
    });
  }
  return stats;
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
