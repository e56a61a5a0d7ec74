import type { Duration } from '../core/duration.ts';
import type { FeatureSet } from './feature-set.ts';

/**
 * Where a topology's model lifecycle keeps its data in ClickHouse, so that the batch jobs
 * (`tributary backfill`, `train`, `score-batch`, `models compare`) find the same tables, feature
 * set and model the online path uses. Table names are as created by the topology's sinks.
 */
export interface LifecycleSpec {
  /** The feature set the model consumes. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  featureSet: FeatureSet<any, any>;
  /** The model's name in the registry, e.g. 'fraud-lr'. */
  model: string;
  /** Registry table (default 'model_registry'). */
  registryTable?: string;
  /** Drift baselines per model version (default 'model_baselines'; `tributary train` writes one). */
  baselinesTable?: string;
  /** Outcome metrics per model version and day (default 'model_outcomes'; `tributary models outcomes` writes them). */
  outcomesTable?: string;
  /** The raw events table (backfill reads it) and its event-time column (epoch ms). */
  eventsTable: string;
  eventsTimeColumn: string;
  /** The feature rows' table (point-in-time history), its time and entity columns. */
  featuresTable: string;
  featuresTimeColumn: string;
  entityColumn: string;
  /** The served predictions' table (the comparison report reads it). */
  predictionsTable: string;
  /**
   * Labels (e.g. chargebacks, sunk from their own topic): a feature row is positive when its
   * entity has a label event with time in [row time - window, row time).
   */
  labels: { table: string; entityColumn: string; timeColumn: string; window: Duration };
  /** Where the batch scoring job writes one prediction per entity (ClickHouse; Redis too). */
  batchPredictionsTable: string;
}
