import type { Observable } from 'rxjs';
import type { Batch } from '../core/batch.ts';
import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';

/**
 * A named, versioned feature definition: the one piece of code that turns events into feature
 * rows, whether they come from Kafka (online), from ClickHouse (backfill) or from an array
 * (training, tests). Bump `version` whenever `compute` or `vector` changes meaning: it keys the
 * online store (`onlinePrefix`), is stored in every feature and prediction row, and every model
 * in the registry records the feature version it was trained on.
 */
export interface FeatureSetDefinition<TIn, F> {
  /** Stable name, e.g. 'card-features'. */
  name: string;
  /** e.g. 'v1'. Letters, digits, '.', '_' and '-'. */
  version: string;
  /** What a key identifies, e.g. 'card': online keys are `features:<name>:<version>:<entity id>`. */
  entity: string;
  /** Events in, feature rows out; the same function in every mode. */
  compute: (events: Observable<Batch<TIn>>) => Observable<Batch<F>>;
  /** The model's input names, in order (stored in the ONNX file and checked at load). */
  featureNames: readonly string[];
  /** The model's input for one feature row, in `featureNames` order. */
  vector: (features: F) => number[];
  /** The entity id of a feature row (the key of the online store and of batch predictions). */
  entityId: (features: F) => string;
  /**
   * How far back in event time one feature row looks: the longest window (a 5-minute window:
   * '5m'). A backfill reads this much before --from, so the rows of windows crossing --from are
   * complete (`tributary backfill --warmup`). Default 0: no warm-up.
   */
  lookback?: Duration;
}

export interface FeatureSet<TIn, F> extends Readonly<FeatureSetDefinition<TIn, F>> {
  /** 'name@version'. */
  readonly id: string;
  /** Prefix of the online store's keys for these features: `features:<name>:<version>:`. */
  readonly onlinePrefix: string;
  /** `lookback` in milliseconds (0 without one). */
  readonly lookbackMs: number;
}

const NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/** Declares a feature set; a malformed declaration fails when the topology module loads. */
export function defineFeatureSet<TIn, F>(definition: FeatureSetDefinition<TIn, F>): FeatureSet<TIn, F> {
  if (typeof definition.name !== 'string' || !NAME.test(definition.name)) {
    throw new ConfigError('featureSet.name', `"${String(definition.name)}" is not a valid feature set name`, 'use lowercase letters, digits, - and _ (e.g. "card-features")');
  }
  const field = `featureSet ${definition.name}`;
  if (typeof definition.version !== 'string' || !VERSION.test(definition.version)) {
    throw new ConfigError(`${field}.version`, `"${String(definition.version)}" is not a valid version`, "use e.g. 'v1' (letters, digits, '.', '_', '-')");
  }
  if (typeof definition.entity !== 'string' || !NAME.test(definition.entity)) {
    throw new ConfigError(`${field}.entity`, `"${String(definition.entity)}" is not a valid entity name`, "name what a key identifies, e.g. 'card'");
  }
  if (!Array.isArray(definition.featureNames) || definition.featureNames.length === 0 || new Set(definition.featureNames).size !== definition.featureNames.length) {
    throw new ConfigError(`${field}.featureNames`, 'must list each model input once', "e.g. featureNames: ['count1m', 'log_sum1m']");
  }
  for (const fn of ['compute', 'vector', 'entityId'] as const) {
    if (typeof definition[fn] !== 'function') throw new ConfigError(`${field}.${fn}`, 'must be a function', 'see FeatureSetDefinition in src/features/feature-set.ts');
  }
  const lookbackMs = definition.lookback === undefined ? 0 : toMillis(definition.lookback, `${field}.lookback`);
  return Object.freeze({ ...definition, lookbackMs, id: `${definition.name}@${definition.version}`, onlinePrefix: `features:${definition.name}:${definition.version}:` });
}
