import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { ConfigError, TributaryError } from '../../src/core/errors.ts';
import { clickhouseModelRegistry } from '../../src/registry/clickhouse-model-registry.ts';
import { bootstrapLive, promote, rollback, servingPlan, startCanary, startShadow } from '../../src/registry/lifecycle.ts';
import { modelFilePath, sha256OfFile, writeModelFile } from '../../src/registry/model-files.ts';
import type { ModelRegistry, ModelVersion, NewModelVersion } from '../../src/registry/model-registry.ts';
import { clickhouseTargets, type ClickHouseTarget } from '../helpers/clickhouse-targets.ts';
import { REPO_ROOT } from '../helpers/services.ts';

for (const target of clickhouseTargets()) describe(target.label, () => registrySuite(target));

/** A version whose "file" is the given text (the registry checks hash and version agree). */
function version(model: string, text: string, overrides: Partial<NewModelVersion> = {}): NewModelVersion {
  const sha = createHash('sha256').update(text).digest('hex');
  return {
    model, version: sha.slice(0, 12), fileSha256: sha, file: `${model}-${sha.slice(0, 12)}.onnx`, featureSet: 'card-features', featureVersion: 'v1',
    // Doubles that ClickHouse 18.16 parses one ulp off from decimal text: stored exactly anyway.
    trainedFrom: 1_767_225_600_000, trainedTo: 1_767_236_400_000, metrics: { auc: 0.6953926708911395, logLoss: 3.329958664298285, rows: 138_700, positives: 876 },
    createdAt: 1_767_240_000_000, ...overrides,
  };
}

function registrySuite(target: ClickHouseTarget): void {
  const table = `model_registry_${randomBytes(5).toString('hex')}`;
  let client: ClickHouseClient;
  let registry: ModelRegistry;
  let directory: string;

  before(async () => {
    client = await target.connect();
    registry = clickhouseModelRegistry(client, { table });
    await registry.open();
    directory = await mkdtemp(join(tmpdir(), 'tributary-models-'));
  });

  after(async () => {
    await registry?.close();
    if (client) {
      await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
      await client.close();
    }
    await rm(directory, { recursive: true, force: true });
    await target.cleanup?.();
  });

  test('the table: plain MergeTree of String, Int64 and Float64 columns', async () => {
    const columns = await (await client.query({ query: `DESCRIBE TABLE ${table}`, format: 'JSONEachRow' })).json<{ name: string; type: string; default_type: string }>();
    assert.deepEqual(columns.filter((c) => c.default_type === '').map((c) => `${c.name} ${c.type}`), [
      'model String', 'version String', 'status String', 'canaryPercent Float64', 'updatedAt Int64', 'note String', 'fileSha256 String', 'file String',
      'featureSet String', 'featureVersion String', 'trainedFrom Int64', 'trainedTo Int64', 'holdoutAuc Float64', 'holdoutLogLoss Float64',
      'holdoutRows Int64', 'holdoutPositives Int64', 'createdAt Int64',
    ]);
    const [engine] = await (await client.query({ query: `SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = '${table}'`, format: 'JSONEachRow' })).json<{ engine: string }>();
    assert.equal(engine!.engine, 'MergeTree');
  });

  test('register, get, list: every field back exactly; the same file again is a no-op; a wrong hash or status fails', async () => {
    const first = version('reg-lr', 'file one');
    const registered = await registry.register(first);
    assert.equal(registered.status, 'candidate');
    assert.equal(registered.canaryPercent, 0);
    assert.equal(registered.note, 'registered');
    const stored = await registry.get('reg-lr', first.version);
    assert.deepEqual(stored, registered);
    assert.deepEqual(stored, { ...first, status: 'candidate', canaryPercent: 0, note: 'registered', updatedAt: registered.updatedAt });

    // Again: the stored version comes back, and no row is added.
    assert.deepEqual(await registry.register({ ...first, createdAt: 1 }), registered);
    assert.equal((await registry.history('reg-lr')).length, 1);

    const second = await registry.register(version('reg-lr', 'file two', { createdAt: first.createdAt + 60_000, metrics: { auc: Number.NaN, logLoss: 0.1, rows: 10, positives: 0 } }));
    assert.ok(Number.isNaN((await registry.get('reg-lr', second.version))!.metrics.auc), 'an undefined AUC (no positives) stays NaN');
    assert.deepEqual((await registry.list('reg-lr')).map((v) => v.version), [second.version, first.version]);
    assert.deepEqual(await registry.list('no-such-model'), []);
    assert.equal(await registry.get('reg-lr', 'ffffffffffff'), undefined);

    await assert.rejects(registry.register({ ...first, fileSha256: first.version + '0'.repeat(52) }), (error: unknown) => error instanceof TributaryError && /registered with SHA-256/.test(error.message));
    await assert.rejects(registry.register({ ...first, version: 'abcdefabcdef' }), (error: unknown) => error instanceof ConfigError && /first 12 hex digits/.test(error.message));
    await assert.rejects(registry.register(version('reg-lr', 'file three', { status: 'canary' })), ConfigError);
    await assert.rejects(registry.setStatus('reg-lr', 'ffffffffffff', 'live'), (error: unknown) => error instanceof TributaryError && /no version ffffffffffff/.test(error.message));
    await assert.rejects(registry.setStatus('reg-lr', first.version, 'canary', { canaryPercent: 100 }), ConfigError);
  });

  test('lifecycle: promote, canary, shadow, rollback, with the history and the serving plan at each step', async (t) => {
    const model = 'life-lr';
    const [a, b, c] = await Promise.all(['A', 'B', 'C'].map((name, i) => registry.register(version(model, `version ${name}`, { createdAt: 1_767_240_000_000 + i }))));
    const status = async () => Object.fromEntries((await registry.list(model)).map((v) => [v.version, v.status === 'canary' ? `canary ${v.canaryPercent}` : v.status]));
    const plan = async () => {
      const { live, candidate } = servingPlan(await registry.list(model));
      return { live: live?.version, candidate: candidate && `${candidate.status} ${candidate.version}` };
    };

    await assert.rejects(startCanary(registry, model, b!.version, 10), (error: unknown) => error instanceof TributaryError && /no live version/.test(error.message) && error.message.includes(b!.version));
    await assert.rejects(rollback(registry, model), (error: unknown) => error instanceof TributaryError && /nothing to roll back/.test(error.message));

    assert.deepEqual((await promote(registry, model, a!.version)).retired, undefined);
    await assert.rejects(rollback(registry, model), (error: unknown) => error instanceof TributaryError && error.message.includes(`${model}@${a!.version} is the first version that was live`));
    await startCanary(registry, model, b!.version, 12.5);
    assert.deepEqual(await status(), { [a!.version]: 'live', [b!.version]: 'canary 12.5', [c!.version]: 'candidate' });
    assert.deepEqual(await plan(), { live: a!.version, candidate: `canary ${b!.version}` });

    for (const percent of [0, 100, -5, Number.NaN]) await assert.rejects(startCanary(registry, model, b!.version, percent), ConfigError);
    await assert.rejects(startCanary(registry, model, a!.version, 5), (error: unknown) => error instanceof TributaryError && error.message.includes(`${model}@${a!.version} is live`));
    await assert.rejects(promote(registry, model, a!.version), (error: unknown) => error instanceof TributaryError && /already live/.test(error.message));

    // One challenger at a time: the shadow replaces the canary, which is a candidate again.
    await startShadow(registry, model, c!.version);
    assert.deepEqual(await status(), { [a!.version]: 'live', [b!.version]: 'candidate', [c!.version]: 'shadow' });
    assert.equal((await registry.get(model, b!.version))!.note, `canary replaced by shadow ${c!.version}`);

    // Rollback with a challenger running stops it.
    assert.equal((await rollback(registry, model)).action, 'stopped');
    assert.deepEqual(await status(), { [a!.version]: 'live', [b!.version]: 'candidate', [c!.version]: 'candidate' });
    assert.equal((await registry.get(model, c!.version))!.note, `rollback of shadow ${c!.version}`);
    assert.deepEqual(await plan(), { live: a!.version, candidate: undefined });

    // Promoting the canary ends the canary: it is live, the old live retired.
    await startCanary(registry, model, b!.version, 10);
    const promoted = await promote(registry, model, b!.version);
    assert.equal(promoted.live.note, `promoted from canary at 10%, replacing ${a!.version}`);
    assert.equal(promoted.retired!.version, a!.version);
    assert.deepEqual(await status(), { [a!.version]: 'retired', [b!.version]: 'live', [c!.version]: 'candidate' });

    // Rollback without a challenger: the version live before comes back.
    const restored = await rollback(registry, model);
    assert.equal(restored.action, 'restored');
    assert.deepEqual(await status(), { [a!.version]: 'live', [b!.version]: 'retired', [c!.version]: 'candidate' });
    assert.equal((await registry.get(model, a!.version))!.note, `rollback of ${b!.version}`);
    assert.equal((await registry.get(model, b!.version))!.note, `rolled back, ${a!.version} live again`);

    // The history keeps every change, in order, with strictly increasing times.
    const history = await registry.history(model);
    assert.deepEqual(history.map((v) => `${v.version === a!.version ? 'A' : v.version === b!.version ? 'B' : 'C'} ${v.status}`).slice(3), [
      'A live', 'B canary', 'C shadow', 'B candidate', 'C candidate', 'B canary', 'B live', 'A retired', 'A live', 'B retired',
    ]);
    assertIncreasing(history);
    t.diagnostic(`${history.length} status rows`);
  });

  test('updatedAt strictly increases per model: a frozen clock, one going back, concurrent changes, a second registry instance', async (t) => {
    const model = 'clock-lr';
    const versions = await Promise.all(['x', 'y'].map((name) => registry.register(version(model, `clock ${name}`))));
    const frozen = Date.now();
    t.mock.method(Date, 'now', () => frozen);
    await Promise.all([registry.setStatus(model, versions[0]!.version, 'retired'), registry.setStatus(model, versions[1]!.version, 'retired'), registry.setStatus(model, versions[0]!.version, 'candidate')]);
    t.mock.method(Date, 'now', () => frozen - 3_600_000); // the clock steps back an hour
    const other = clickhouseModelRegistry(client, { table }); // no memory of what the first wrote
    await other.setStatus(model, versions[1]!.version, 'candidate');
    await other.setStatus(model, versions[1]!.version, 'retired');
    t.mock.restoreAll();
    const history = await registry.history(model);
    assert.equal(history.length, 7);
    assertIncreasing(history);
    assert.deepEqual(history.slice(2).map((v) => v.updatedAt - history[2]!.updatedAt), [0, 1, 2, 3, 4]);
    assert.ok(history[2]!.updatedAt >= frozen);
  });

  test('bootstrapLive: the shipped file becomes live on an empty registry, with its sidecar metrics; later calls change nothing', async () => {
    const shipped = join(REPO_ROOT, 'models', 'fraud-lr.onnx');
    const card = JSON.parse(await readFile(shipped.replace(/\.onnx$/, '.json'), 'utf8')) as { metrics: { holdout: { auc: number; logLoss: number; rows: number; positives: number } } };
    const sha = await sha256OfFile(shipped);
    const live = await bootstrapLive(registry, { model: 'boot-lr', file: 'fraud-lr.onnx', featureSet: 'card-features', featureVersion: 'v1', directory: join(REPO_ROOT, 'models') });
    const { auc, logLoss, rows, positives } = card.metrics.holdout;
    assert.deepEqual(live, {
      model: 'boot-lr', version: sha.slice(0, 12), fileSha256: sha, file: 'fraud-lr.onnx', featureSet: 'card-features', featureVersion: 'v1',
      trainedFrom: Date.UTC(2026, 0, 1), trainedTo: Date.UTC(2026, 0, 1, 3), metrics: { auc, logLoss, rows, positives },
      createdAt: Math.trunc((await stat(shipped)).mtimeMs), status: 'live', canaryPercent: 0, note: 'bootstrap: no live version', updatedAt: live.updatedAt,
    });
    assert.equal(modelFilePath(live.file, join(REPO_ROOT, 'models')), shipped);
    assert.deepEqual(await bootstrapLive(registry, { model: 'boot-lr', file: 'fraud-lr.onnx', featureSet: 'card-features', featureVersion: 'v1', directory: join(REPO_ROOT, 'models') }), live);
    assert.deepEqual((await registry.history('boot-lr')).map((v) => v.status), ['candidate', 'live']);

    // A promoted version stays live: bootstrap never overrides the registry.
    const written = await writeModelFile(new TextEncoder().encode('not really onnx'), 'boot-lr', directory);
    await registry.register({ ...version('boot-lr', 'not really onnx'), file: written.file });
    await promote(registry, 'boot-lr', written.version);
    assert.equal((await bootstrapLive(registry, { model: 'boot-lr', file: 'fraud-lr.onnx', featureSet: 'card-features', featureVersion: 'v1', directory: join(REPO_ROOT, 'models') })).version, written.version);

    // Without a sidecar: zeros; a missing file: a ConfigError naming it.
    await writeFile(join(directory, 'bare.onnx'), 'bare bytes');
    const bare = await bootstrapLive(registry, { model: 'bare-lr', file: 'bare.onnx', featureSet: 'card-features', featureVersion: 'v1', directory });
    assert.deepEqual([bare.status, bare.metrics, bare.trainedFrom, bare.trainedTo, bare.file], ['live', { auc: 0, logLoss: 0, rows: 0, positives: 0 }, 0, 0, 'bare.onnx']);
    await assert.rejects(bootstrapLive(registry, { model: 'gone-lr', file: 'missing.onnx', featureSet: 'card-features', featureVersion: 'v1', directory }), (error: unknown) => error instanceof ConfigError && error.message.includes(join(directory, 'missing.onnx')));
  });

  test('writeModelFile: <model>-<version>.onnx with version = the first 12 hex digits of its SHA-256', async () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const written = await writeModelFile(bytes, 'files-lr', directory);
    assert.deepEqual(written, { file: `files-lr-${sha.slice(0, 12)}.onnx`, path: join(directory, `files-lr-${sha.slice(0, 12)}.onnx`), sha256: sha, version: sha.slice(0, 12) });
    assert.equal(await sha256OfFile(written.path), sha);
    await assert.rejects(writeModelFile(bytes, '../escape', directory), ConfigError);
  });
}

function assertIncreasing(history: ModelVersion[]): void {
  for (let i = 1; i < history.length; i++) assert.ok(history[i]!.updatedAt > history[i - 1]!.updatedAt, `updatedAt ${history[i]!.updatedAt} after ${history[i - 1]!.updatedAt}`);
}
