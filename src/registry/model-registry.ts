/**
 * The model registry: every model version Tributary may serve, with its lineage and its place
 * in the lifecycle. Stored in ClickHouse (an append-only table: each status change is a new
 * row, so the history is kept and rollback knows what was live before); model files live in
 * the model directory (models/ or TRIBUTARY_MODEL_DIR).
 *
 * Lifecycle: a trained model is registered as 'candidate'; it may go 'shadow' (scored on every
 * record, recorded, never served) or 'canary' (served for `canaryPercent`% of keys, chosen by a
 * stable hash of the key), then 'live'; the live version it replaces becomes 'retired'. At most
 * one version is live and at most one is canary or shadow at a time.
 */
export type ModelStatus = 'candidate' | 'shadow' | 'canary' | 'live' | 'retired';

export const MODEL_STATUSES: readonly ModelStatus[] = ['candidate', 'shadow', 'canary', 'live', 'retired'];

/** Training metrics on the holdout set. */
export interface ModelMetrics {
  auc: number;
  logLoss: number;
  /** Holdout rows and positives among them. */
  rows: number;
  positives: number;
}

export interface ModelVersion {
  /** Model name, e.g. 'fraud-lr'. */
  model: string;
  /** First 12 hex digits of the file's SHA-256. */
  version: string;
  fileSha256: string;
  /** File name inside the model directory (or an absolute path). */
  file: string;
  /** The feature set and version the model was trained on (FeatureSet.name, .version). */
  featureSet: string;
  featureVersion: string;
  /** Event-time range of the training data (windowEnd), epoch ms; 0 when unknown. */
  trainedFrom: number;
  trainedTo: number;
  metrics: ModelMetrics;
  /** Epoch ms. */
  createdAt: number;
  status: ModelStatus;
  /** Canary only: percent of keys (0-100) the version serves. */
  canaryPercent: number;
  /** When this status was set, epoch ms. */
  updatedAt: number;
  /** Free text recorded with the status change (e.g. 'rollback of 1a2b3c4d5e6f'). */
  note: string;
}

export type NewModelVersion = Omit<ModelVersion, 'status' | 'canaryPercent' | 'updatedAt' | 'note'> & { status?: ModelStatus; note?: string };

export interface ModelRegistry {
  /** Creates the registry table if needed. */
  open(): Promise<void>;
  /** Records a version (status 'candidate' unless given); registering the same file again is a no-op returning the stored version. */
  register(version: NewModelVersion): Promise<ModelVersion>;
  /** Every version of `model` with its latest status, newest first. */
  list(model: string): Promise<ModelVersion[]>;
  get(model: string, version: string): Promise<ModelVersion | undefined>;
  /** Appends a status change for one version. */
  setStatus(model: string, version: string, status: ModelStatus, options?: { canaryPercent?: number; note?: string }): Promise<void>;
  /** Every status change of `model`, oldest first. */
  history(model: string): Promise<ModelVersion[]>;
  close(): Promise<void>;
}
