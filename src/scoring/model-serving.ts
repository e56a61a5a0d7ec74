import type { ScoringModel } from './scoring-model.ts';
import { keyHash } from '../core/key-hash.ts';

/**
 * Which models a score step uses for one micro-batch: the live model scores every row; while a
 * canary or shadow runs, the candidate scores every row too. Canary: the candidate's score is
 * served for the keys `inCanary` selects, the live score for the rest; shadow: the live score is
 * always served. Either way both scores are recorded (the served one, and the other as the
 * challenger), so live and candidate can be compared on the same records.
 *
 * An assignment is immutable: a promotion makes a new one, and each micro-batch scores with
 * the assignment current when it starts, so every row is scored by exactly one assignment.
 */
export interface ServingAssignment {
  readonly live: ScoringModel;
  readonly candidate: { readonly model: ScoringModel; readonly mode: 'canary' | 'shadow'; readonly percent: number } | undefined;
  /** The entity id of a row, for the canary split (FeatureSet.entityId). */
  readonly entityId: (value: never) => string;
  /** The feature version the models were trained on. */
  readonly featureVersion: string;
}

/** What the score operator needs from a set of served models (ServedModel, or a fixed pair in tests). */
export interface ModelServing {
  readonly description: string;
  /** The assignment to score the next micro-batch with; undefined until the first one loaded. */
  current(): ServingAssignment | undefined;
  /** A score step starts using the models: resolves with the first assignment (rejects when none can be loaded). */
  subscribe(): Promise<ServingAssignment>;
  /** A score step stopped using them (called once per subscribe, after its last micro-batch settled). */
  unsubscribe(): void;
  /** Marks an assignment's models in use by a micro-batch; a model a swap replaced is closed once none holds it. */
  hold(assignment: ServingAssignment): void;
  release(assignment: ServingAssignment): void;
  /** Watches what the live model scores (drift monitoring), where the models have a baseline. */
  readonly observer?: ScoringObserver;
}

/**
 * Sees every micro-batch the live model scored, and the watermark of every batch a score step
 * emits; shared by the score steps of all partition tasks (each attaches its own handle).
 */
export interface ScoringObserver {
  /** `features` holds rows x width model inputs; `probabilities` and `eventTimes` one value per row. */
  observe(model: ScoringModel, features: Float32Array, rows: number, width: number, probabilities: Float32Array, eventTimes: Float64Array): void;
  /**
   * A score step starts emitting (on its first batch). `topologyWatermark` is the engine's
   * watermark over all its partitions, including those whose score step has not attached yet.
   */
  attach(topologyWatermark?: () => number): WatermarkHandle;
}

/** One score step's watermark, reported after each batch it emitted. */
export interface WatermarkHandle {
  advance(watermark: number): void;
  detach(): void;
}

export function isModelServing(value: unknown): value is ModelServing {
  return typeof value === 'object' && value !== null && typeof (value as ModelServing).current === 'function' && typeof (value as ModelServing).subscribe === 'function';
}

/**
 * The canary split: a stable hash (32-bit FNV-1a over the UTF-16 code units) of the entity id,
 * in 10,000 buckets, so a key stays on one side while the percentage stays the same, across
 * restarts, partitions and instances. `percent` may have two decimals.
 */
export function inCanary(entityId: string, percent: number): boolean {
  return canaryBucket(entityId) < Math.round(percent * 100);
}

/** The key's bucket, 0..9999. */
export function canaryBucket(entityId: string): number {
  return keyHash(entityId) % 10_000;
}
