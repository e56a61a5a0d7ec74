import type { ClickHouseClient } from '@clickhouse/client';
import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError, errorMessage } from '../core/errors.ts';
import type { FeatureSet } from '../features/feature-set.ts';
import type { Logger } from '../observability/logger.ts';
import { clickhouseModelRegistry } from '../registry/clickhouse-model-registry.ts';
import { bootstrapLive, servingPlan } from '../registry/lifecycle.ts';
import type { AuditContext } from '../audit/audited-run.ts';
import { defaultModelDirectory, modelFilePath } from '../registry/model-files.ts';
import type { ModelRegistry, ModelVersion } from '../registry/model-registry.ts';
import type { ModelServing, ServingAssignment } from './model-serving.ts';
import { loadRegisteredModel } from './registered-model.ts';
import { checkFeatureNames, type ScoringModel } from './scoring-model.ts';

export interface ServedModelOptions {
  /** The model's name in the registry, e.g. 'fraud-lr'. */
  model: string;
  /** The features it scores: a version trained on another feature version is refused. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  featureSet: FeatureSet<any, any>;
  /** Registry table. Default 'model_registry'. */
  registryTable?: string;
  /** A model file registered and made live when the registry has no live version (first start). */
  bootstrap?: string;
  /** How often the registry is read for promotions. Default '2s' (the engine's TRIBUTARY_MODEL_POLL_MS overrides). */
  pollInterval?: Duration;
  /** Where registered files live (default: the engine's TRIBUTARY_MODEL_DIR, else the package's models/). */
  directory?: string;
  /** Loads a version's file (tests wrap the model to inject faults). Default OnnxModel.load. */
  load?: (path: string, version: ModelVersion) => Promise<ScoringModel>;
}

/** What the engine gives served models when it starts them. */
export interface ModelEnvironment {
  clickhouse: () => Promise<ClickHouseClient>;
  logger: Logger;
  /** The engine's model directory (EngineConfig.modelDirectory), when the model names none. */
  modelDirectory?: string;
  /** The engine's registry poll interval (EngineConfig.modelPollIntervalMs), over the model's own. */
  pollIntervalMs?: number;
  /** Where a bootstrap (the shipped file made live) is recorded. */
  audit?: AuditContext;
}

interface Loaded {
  model: ScoringModel;
  holds: number;
  /** No longer in the current assignment: closed once no micro-batch holds it. */
  retired: boolean;
}

/**
 * The registry's live model (and its canary or shadow candidate) for a score step, kept in step
 * with the registry while the engine runs: every `pollInterval` the registry is read, new
 * versions are loaded and checked (file hash, feature version, feature names) and only then
 * swapped in, atomically, between micro-batches. Replaced models are closed once the
 * micro-batches using them have settled. A version that fails its checks is never served; the
 * previous assignment stays (logged as an error).
 */
export class ServedModel implements ModelServing {
  readonly options: ServedModelOptions;
  readonly description: string;
  private registry: ModelRegistry | null = null;
  private assignment: ServingAssignment | undefined;
  private assignmentKey = '';
  private readonly loaded = new Map<string, Loaded>();
  private timer: NodeJS.Timeout | null = null;
  /** Where registered files are read from (set by start). */
  private directory = '';
  private starts = 0;
  private logger: Logger | undefined;
  private refreshing: Promise<boolean> | null = null;
  private first!: Promise<ServingAssignment>;
  private resolveFirst!: (assignment: ServingAssignment) => void;

  constructor(options: ServedModelOptions) {
    this.options = options;
    this.description = `model ${options.model} (registry ${options.registryTable ?? 'model_registry'})`;
    this.resetFirst();
  }

  private resetFirst(): void {
    this.first = new Promise((resolve) => (this.resolveFirst = resolve));
  }

  /** Opens the registry, bootstraps it if empty, loads the first assignment, then polls. Idempotent per engine. */
  async start(environment: ModelEnvironment): Promise<void> {
    if (this.starts++ > 0) return;
    this.logger = environment.logger;
    this.directory = this.options.directory ?? environment.modelDirectory ?? defaultModelDirectory({});
    const registry = clickhouseModelRegistry(await environment.clickhouse(), { table: this.options.registryTable });
    await registry.open();
    this.registry = registry;
    const { model, bootstrap, featureSet } = this.options;
    if (bootstrap !== undefined) await bootstrapLive(registry, { model, file: bootstrap, featureSet: featureSet.name, featureVersion: featureSet.version, directory: this.directory }, environment.audit);
    if (!(await this.refresh({ initial: true }))) {
      throw new ConfigError(`models.${model}`, `the registry has no servable live version of ${model}`, `register and promote one: tributary models promote <topology> <version>`);
    }
    const pollMs = environment.pollIntervalMs ?? toMillis(this.options.pollInterval ?? '2s', `models.${model}.pollInterval`);
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (--this.starts > 0) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.refreshing?.catch(() => undefined);
    await this.registry?.close().catch(() => undefined);
    this.registry = null;
    // The engine stops its pipelines first; a micro-batch still holding a model closes it on release.
    for (const [version, entry] of this.loaded) {
      entry.retired = true;
      if (entry.holds === 0) this.close(version, entry);
    }
    this.assignment = undefined;
    this.assignmentKey = '';
    this.resetFirst();
  }

  current(): ServingAssignment | undefined {
    return this.assignment;
  }

  subscribe(): Promise<ServingAssignment> {
    if (this.starts === 0 && this.assignment === undefined) {
      return Promise.reject(new ConfigError(`models.${this.options.model}`, 'the served model is not started', "list it in the topology's `models` so the engine starts it"));
    }
    return this.first;
  }

  unsubscribe(): void {}

  hold(assignment: ServingAssignment): void {
    for (const model of modelsOf(assignment)) {
      const entry = this.loaded.get(model.version);
      if (entry) entry.holds++;
    }
  }

  release(assignment: ServingAssignment): void {
    for (const model of modelsOf(assignment)) {
      const entry = this.loaded.get(model.version);
      if (entry && --entry.holds === 0 && entry.retired) this.close(model.version, entry);
    }
  }

  /** Reads the registry and swaps in what it says; true when an assignment is in place. Concurrent calls share one read. */
  refresh(options: { initial?: boolean } = {}): Promise<boolean> {
    this.refreshing ??= this.readRegistry(options.initial === true).finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async readRegistry(initial: boolean): Promise<boolean> {
    const registry = this.registry;
    if (registry === null) return this.assignment !== undefined;
    const { model } = this.options;
    let plan: ReturnType<typeof servingPlan>;
    try {
      plan = servingPlan(await registry.list(model));
    } catch (error) {
      if (initial) throw error;
      this.logger?.warn({ model, err: errorMessage(error) }, 'reading the model registry failed; serving the current models');
      return this.assignment !== undefined;
    }
    if (plan.live === undefined) {
      if (this.assignment) this.logger?.error({ model }, 'the registry has no live version; serving the current models until one is promoted');
      return this.assignment !== undefined;
    }
    const candidate = plan.candidate;
    const key = `${plan.live.version}|${candidate ? `${candidate.version}:${candidate.status}:${candidate.canaryPercent}` : ''}`;
    if (key === this.assignmentKey) return true;
    try {
      const live = await this.load(plan.live);
      const next: ServingAssignment = {
        live,
        candidate: candidate && { model: await this.load(candidate), mode: candidate.status, percent: candidate.status === 'canary' ? candidate.canaryPercent : 0 },
        entityId: this.options.featureSet.entityId as (value: never) => string,
        featureVersion: this.options.featureSet.version,
      };
      this.swap(next, key);
      return true;
    } catch (error) {
      if (initial) throw error;
      this.logger?.error({ model, key, err: errorMessage(error) }, 'a registered version cannot be served; serving the current models');
      return this.assignment !== undefined;
    }
  }

  private swap(next: ServingAssignment, key: string): void {
    const previous = this.assignment;
    this.assignment = next;
    this.assignmentKey = key;
    const inUse = new Set(modelsOf(next).map((m) => m.version));
    for (const [version, entry] of this.loaded) {
      if (inUse.has(version)) entry.retired = false;
      else {
        entry.retired = true;
        if (entry.holds === 0) this.close(version, entry);
      }
    }
    const c = next.candidate;
    this.logger?.info({ model: this.options.model, live: next.live.version, candidate: c?.model.version, mode: c?.mode, percent: c?.percent, previous: previous?.live.version }, `serving ${this.options.model}@${next.live.version}${c ? `, ${c.mode} ${c.model.version}${c.mode === 'canary' ? ` for ${c.percent}% of keys` : ''}` : ''}`);
    if (previous === undefined) this.resolveFirst(next);
  }

  private async load(version: ModelVersion): Promise<ScoringModel> {
    const held = this.loaded.get(version.version);
    if (held) return held.model;
    const { featureSet, model: name } = this.options;
    const field = `models.${name}@${version.version}`;
    if (version.featureSet !== featureSet.name || version.featureVersion !== featureSet.version) {
      throw new ConfigError(field, `trained on features ${version.featureSet}@${version.featureVersion}, but the topology computes ${featureSet.id}`, `retrain on ${featureSet.id} (tributary train) or backfill and serve a matching version`);
    }
    const model = this.options.load ? await this.options.load(modelFilePath(version.file, this.directory), version) : await loadRegisteredModel(version, this.directory);
    try {
      checkFeatureNames(model, featureSet.featureNames);
    } catch (error) {
      await model.close();
      throw error;
    }
    this.loaded.set(version.version, { model, holds: 0, retired: false });
    return model;
  }

  private close(version: string, entry: Loaded): void {
    this.loaded.delete(version);
    entry.model.close().catch((error: unknown) => this.logger?.warn({ version, err: errorMessage(error) }, 'closing a replaced model failed'));
  }
}

function modelsOf(assignment: ServingAssignment): ScoringModel[] {
  return assignment.candidate ? [assignment.live, assignment.candidate.model] : [assignment.live];
}

/** Served models for a score step; list the same object in the topology's `models`. */
export function servedModel(options: ServedModelOptions): ServedModel {
  if (typeof options.model !== 'string' || !/^[a-z][a-z0-9_-]{0,62}$/.test(options.model)) {
    throw new ConfigError('servedModel.model', `"${String(options.model)}" is not a valid model name`, "use lowercase letters, digits, - and _ (e.g. 'fraud-lr')");
  }
  return new ServedModel(options);
}
