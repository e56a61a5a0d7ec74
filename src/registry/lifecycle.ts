import { readFile, stat } from 'node:fs/promises';
import { ConfigError, TributaryError, errorMessage } from '../core/errors.ts';
import { defaultModelDirectory, modelFilePath, registeredFileName, sha256OfFile, versionOf } from './model-files.ts';
import type { ModelMetrics, ModelRegistry, ModelVersion } from './model-registry.ts';
import type { AuditContext } from '../audit/audited-run.ts';
import { auditedChange, statuses, type StatusChange } from './lifecycle-audit.ts';

/**
 * The lifecycle rules, each a short sequence of registry calls. At most one version is live and
 * at most one is canary or shadow. Where a rule changes two versions, the version that starts
 * serving is written first, so a crash in between leaves two candidates for a role (servingPlan
 * takes the latest) rather than none. Given an audit context, each change (and each refusal) is
 * recorded as model.promote, model.canary, model.shadow, model.rollback or model.bootstrap, with
 * the statuses of the versions it touched before and after.
 */

export type ServingCandidate = ModelVersion & { status: 'canary' | 'shadow' };

export interface ServingPlan {
  live?: ModelVersion;
  /** The canary (served to canaryPercent% of keys) or shadow (scored, never served) version. */
  candidate?: ServingCandidate;
}

/** What the engine loads, from `list()`: the live version and the canary or shadow, latest change first. */
export function servingPlan(versions: readonly ModelVersion[]): ServingPlan {
  const latest = <T extends ModelVersion>(matching: T[]): T | undefined => matching.reduce<T | undefined>((best, v) => (best === undefined || v.updatedAt > best.updatedAt ? v : best), undefined);
  return {
    live: latest(versions.filter((v) => v.status === 'live')),
    candidate: latest(versions.filter((v): v is ServingCandidate => v.status === 'canary' || v.status === 'shadow')),
  };
}

/** Makes `version` live; the version live until now is retired. A canary or shadow of `version` ends by becoming live. */
export function promote(registry: ModelRegistry, model: string, version: string, audit?: AuditContext): Promise<{ live: ModelVersion; retired?: ModelVersion }> {
  return auditedChange(audit, 'model.promote', `${model}@${version}`, async (change) => {
    const target = await existing(registry, model, version);
    const { live } = servingPlan(await registry.list(model));
    change.before = statuses(target, live);
    if (target.status === 'live') throw new TributaryError(`${model}@${version} is already live. Fix: nothing to do; to go back to the version before it, run \`tributary models rollback <topology>\``, { code: 'MODEL_LIFECYCLE' });
    const from = target.status === 'canary' ? `canary at ${target.canaryPercent}%` : target.status;
    await registry.setStatus(model, version, 'live', { note: `promoted from ${from}${live ? `, replacing ${live.version}` : ''}` });
    if (live) await registry.setStatus(model, live.version, 'retired', { note: `replaced by ${version}` });
    const result = { live: (await registry.get(model, version))!, retired: live && (await registry.get(model, live.version)) };
    change.after = statuses(result.live, result.retired);
    return result;
  });
}

/** Serves `version` to `percent`% of keys (0 < percent < 100) next to the live version. */
export function startCanary(registry: ModelRegistry, model: string, version: string, percent: number, audit?: AuditContext): Promise<ModelVersion> {
  return auditedChange(audit, 'model.canary', `${model}@${version}`, async (change) => {
    if (!(typeof percent === 'number' && percent > 0 && percent < 100)) {
      throw new ConfigError('percent', `${String(percent)} is not a canary share for ${model}@${version}`, 'give a percent of keys between 0 and 100 (exclusive), e.g. --percent 10');
    }
    return startChallenger(registry, model, version, 'canary', percent, change);
  });
}

/** Scores every record with `version` too and records its output; the live version is still served. */
export function startShadow(registry: ModelRegistry, model: string, version: string, audit?: AuditContext): Promise<ModelVersion> {
  return auditedChange(audit, 'model.shadow', `${model}@${version}`, (change) => startChallenger(registry, model, version, 'shadow', 0, change));
}

async function startChallenger(registry: ModelRegistry, model: string, version: string, status: 'canary' | 'shadow', percent: number, change: StatusChange): Promise<ModelVersion> {
  const target = await existing(registry, model, version);
  const { live, candidate } = servingPlan(await registry.list(model));
  change.before = statuses(target, candidate);
  if (target.status === 'live') throw new TributaryError(`${model}@${version} is live; a ${status} runs a version next to the live one. Fix: start the ${status} on a candidate (\`tributary models list <topology>\`)`, { code: 'MODEL_LIFECYCLE' });
  if (!live) throw new TributaryError(`${model} has no live version for ${model}@${version} to run next to. Fix: promote a version first (\`tributary models promote <topology> <version>\`)`, { code: 'MODEL_LIFECYCLE' });
  const note = status === 'canary' ? `canary at ${percent}% next to live ${live.version}` : `shadow of live ${live.version}`;
  await registry.setStatus(model, version, status, { canaryPercent: status === 'canary' ? percent : undefined, note });
  if (candidate && candidate.version !== version) await registry.setStatus(model, candidate.version, 'candidate', { note: `${candidate.status} replaced by ${status} ${version}` });
  const started = (await registry.get(model, version))!;
  change.after = statuses(started, candidate && candidate.version !== version ? await registry.get(model, candidate.version) : undefined);
  return started;
}

export type RollbackResult =
  | { action: 'stopped'; stopped: ModelVersion; live?: ModelVersion }
  | { action: 'restored'; retired: ModelVersion; live: ModelVersion };

/**
 * Undoes the last step: a running canary or shadow goes back to candidate; otherwise the live
 * version is retired and the version live before it (from the history) is live again.
 */
export function rollback(registry: ModelRegistry, model: string, audit?: AuditContext): Promise<RollbackResult> {
  return auditedChange(audit, 'model.rollback', model, async (change) => {
    const { live, candidate } = servingPlan(await registry.list(model));
    if (candidate) {
      change.before = statuses(candidate);
      await registry.setStatus(model, candidate.version, 'candidate', { note: `rollback of ${candidate.status} ${candidate.version}` });
      const stopped = (await registry.get(model, candidate.version))!;
      change.after = statuses(stopped);
      return { action: 'stopped', stopped, live };
    }
    if (!live) throw new TributaryError(`nothing to roll back: ${model} has no live, canary or shadow version. Fix: promote a version (\`tributary models promote <topology> <version>\`)`, { code: 'MODEL_LIFECYCLE' });
    const history = await registry.history(model);
    const previous = history.filter((row) => row.status === 'live' && row.version !== live.version).at(-1);
    change.before = statuses(live, previous && (await registry.get(model, previous.version)));
    if (!previous) throw new TributaryError(`nothing to roll back: ${model}@${live.version} is the first version that was live. Fix: promote another version instead (\`tributary models promote <topology> <version>\`)`, { code: 'MODEL_LIFECYCLE' });
    await registry.setStatus(model, previous.version, 'live', { note: `rollback of ${live.version}` });
    await registry.setStatus(model, live.version, 'retired', { note: `rolled back, ${previous.version} live again` });
    const restored: RollbackResult = { action: 'restored', retired: (await registry.get(model, live.version))!, live: (await registry.get(model, previous.version))! };
    change.after = statuses(restored.retired, restored.live);
    return restored;
  });
}

export interface BootstrapOptions {
  model: string;
  /** The shipped model file: a name in `directory` or an absolute path. */
  file: string;
  /** FeatureSet.name and .version the file was trained on. */
  featureSet: string;
  featureVersion: string;
  /** Default defaultModelDirectory(). */
  directory?: string;
}

/**
 * Makes the shipped file live when `model` has no live version, so an engine starts on an empty
 * registry. Metrics and the training range come from the file's sidecar `.json` (as written by
 * scripts/train-fraud-model.ts) when there is one, else zeros. Returns the live version.
 */
export async function bootstrapLive(registry: ModelRegistry, options: BootstrapOptions, audit?: AuditContext): Promise<ModelVersion> {
  const { live } = servingPlan(await registry.list(options.model));
  if (live) return live;
  return auditedChange(audit, 'model.bootstrap', options.model, async (change) => {
    const bootstrapped = await registerShipped(registry, options);
    change.after = statuses(bootstrapped);
    return bootstrapped;
  });
}

async function registerShipped(registry: ModelRegistry, options: BootstrapOptions): Promise<ModelVersion> {
  const directory = options.directory ?? defaultModelDirectory();
  const path = modelFilePath(options.file, directory);
  let modified: number;
  try {
    modified = Math.trunc((await stat(path)).mtimeMs);
  } catch (error) {
    throw new ConfigError(`model ${options.model}`, `no live version in the registry and the default file ${path} cannot be read (${errorMessage(error)})`, 'train and promote one (tributary train, tributary models promote) or restore the file');
  }
  const sha256 = await sha256OfFile(path);
  const version = versionOf(sha256);
  const sidecar = await readSidecar(path.replace(/\.onnx$/i, '') + '.json');
  const registered = await registry.register({
    model: options.model,
    version,
    fileSha256: sha256,
    file: registeredFileName(path, directory),
    featureSet: options.featureSet,
    featureVersion: options.featureVersion,
    trainedFrom: sidecar.trainedFrom,
    trainedTo: sidecar.trainedTo,
    metrics: sidecar.metrics,
    createdAt: modified, // the file's own time: when the shipped model was written
    note: 'bootstrap: the shipped model file',
  });
  await registry.setStatus(options.model, registered.version, 'live', { note: 'bootstrap: no live version' });
  return (await registry.get(options.model, registered.version))!;
}

interface Sidecar {
  metrics: ModelMetrics;
  trainedFrom: number;
  trainedTo: number;
}

/**
 * Holdout metrics and event-time range from the sidecar: `training.trainedFrom/trainedTo` (as
 * `tributary train` writes) or `training.from` + `hours` (scripts/train-fraud-model.ts); zeros
 * where absent.
 */
async function readSidecar(path: string): Promise<Sidecar> {
  const zeros: Sidecar = { metrics: { auc: 0, logLoss: 0, rows: 0, positives: 0 }, trainedFrom: 0, trainedTo: 0 };
  let card: { metrics?: { holdout?: Partial<ModelMetrics> } & Partial<ModelMetrics>; training?: { from?: string; hours?: number; trainedFrom?: number; trainedTo?: number } };
  try {
    card = JSON.parse(await readFile(path, 'utf8')) as typeof card;
  } catch {
    return zeros; // no sidecar, or not ours: the registry still records the file and its hash
  }
  const number = (value: unknown, integer: boolean) => (typeof value === 'number' && Number.isFinite(value) && (!integer || Number.isSafeInteger(value)) && value >= 0 ? value : 0);
  const metrics = card.metrics?.holdout ?? card.metrics ?? {};
  const training = card.training ?? {};
  let trainedFrom = number(training.trainedFrom, true);
  let trainedTo = number(training.trainedTo, true);
  if (trainedFrom === 0 && training.from !== undefined) {
    const from = Date.parse(training.from);
    trainedFrom = Number.isFinite(from) && from > 0 ? from : 0;
    // The end of the generated events: the last windows close up to 5 minutes later.
    trainedTo = trainedFrom > 0 && typeof training.hours === 'number' && training.hours > 0 ? trainedFrom + Math.round(training.hours * 3_600_000) : 0;
  }
  return {
    metrics: { auc: number(metrics.auc, false), logLoss: number(metrics.logLoss, false), rows: number(metrics.rows, true), positives: number(metrics.positives, true) },
    trainedFrom,
    trainedTo,
  };
}

async function existing(registry: ModelRegistry, model: string, version: string): Promise<ModelVersion> {
  const found = await registry.get(model, version);
  if (!found) throw new TributaryError(`model ${model} has no version ${version} in the registry. Fix: pick one that \`tributary models list <topology>\` shows, or train one (tributary train <topology>)`, { code: 'MODEL_REGISTRY' });
  return found;
}
