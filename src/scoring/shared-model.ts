import { OnnxModel } from './onnx-model.ts';
import type { ScoringModel } from './scoring-model.ts';

/** A model file path, a model the caller owns, or a factory whose models the operator owns. */
export type ModelSource = string | ScoringModel | (() => Promise<ScoringModel>);

/**
 * Loads a model on first use and shares it between the subscriptions of one operator. A model
 * the operator loaded (from a path or a factory) is closed when its last subscription ends; a
 * model instance passed in stays open, because its owner may use it elsewhere.
 */
const byPath = new Map<string, SharedModel>();

export class SharedModel {
  private readonly source: ModelSource;
  private loading: Promise<ScoringModel> | null = null;
  private users = 0;

  constructor(source: ModelSource) {
    this.source = source;
  }

  /**
   * The shared model of a file path, or a new one for other sources. One engine builds the
   * pipeline once per partition task, so a score step over a model file exists once per task;
   * they all share one loaded session instead of loading the file once per partition.
   */
  static of(source: ModelSource): SharedModel {
    if (typeof source !== 'string') return new SharedModel(source);
    let shared = byPath.get(source);
    if (!shared) byPath.set(source, (shared = new SharedModel(source)));
    return shared;
  }

  get owned(): boolean {
    return typeof this.source !== 'object';
  }

  acquire(): Promise<ScoringModel> {
    this.users++;
    this.loading ??= this.load();
    return this.loading;
  }

  /** Call once per acquire, after the caller's last score() call has settled. */
  release(): void {
    if (--this.users > 0) return;
    const loading = this.loading;
    this.loading = null;
    if (loading === null || !this.owned) return;
    loading.then(
      (model) => model.close(),
      () => undefined, // a failed load has nothing to close; the subscriber already got the error
    ).catch(() => undefined);
  }

  private load(): Promise<ScoringModel> {
    const source = this.source;
    if (typeof source === 'string') return OnnxModel.load(source);
    if (typeof source === 'function') return source();
    return Promise.resolve(source);
  }
}
