import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClickHouseClient } from '@clickhouse/client';
import { batchPredictionsTableSql, openBatchPredictionsTable, type BatchPredictionRow } from '../../../src/tables/batch-predictions-table.ts';
import { batchPredictionKey, scoreBatch } from '../../../src/batch/batch-scoring.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { defineFeatureSet } from '../../../src/features/feature-set.ts';
import type { ScoringModel } from '../../../src/scoring/scoring-model.ts';
import { detectDialect } from '../../../src/clickhouse/dialect.ts';
import { MemoryKeyValueStore } from '../../../src/state/memory-store.ts';
import type { LifecycleSpec } from '../../../src/features/lifecycle-spec.ts';
import { fakeClickHouse } from '../../helpers/fake-clickhouse.ts';

interface Features { id: string; end: number; a: number; b: number; featureVersion: string }

const featureSet = defineFeatureSet<unknown, Features>({
  name: 'toy', version: 'v2', entity: 'thing', compute: () => { throw new Error('not used'); }, featureNames: ['a', 'b'], vector: (f) => [f.a, f.b], entityId: (f) => `thing-${f.id}`,
});
const lifecycle: LifecycleSpec = {
  featureSet, model: 'toy-model', eventsTable: 'events', eventsTimeColumn: 'ts', featuresTable: 'toy_features', featuresTimeColumn: 'end', entityColumn: 'id',
  predictionsTable: 'predictions', labels: { table: 'labels', entityColumn: 'id', timeColumn: 'ts', window: '1m' }, batchPredictionsTable: 'toy_batch',
};

/** A model whose probability is a / 100 (b is checked for being finite only). */
function toyModel(featureNames: string[] = ['a', 'b']): ScoringModel & { calls: number[] } {
  const calls: number[] = [];
  return {
    name: 'toy-model', version: 'abcdef012345', featureNames, featureCount: featureNames.length, calls,
    score: async (features, rows) => {
      calls.push(rows);
      return Float32Array.from({ length: rows }, (_, i) => (features[i * 2]! >= 1000 ? Number.NaN : features[i * 2]! / 100));
    },
    close: async () => {},
  };
}

/** 18.16 answering the scoring job's queries: the feature table (system.tables, DESCRIBE) and one page of latest rows. */
function fakeServer(latest: unknown[][]) {
  const fake = fakeClickHouse(false);
  const base = fake.client.query.bind(fake.client);
  const queries: string[] = [];
  const client = {
    ...fake.client,
    query: async (params: { query: string }) => {
      queries.push(params.query);
      const q = params.query;
      if (q.startsWith('SELECT engine FROM system.tables')) return { json: async () => [{ engine: 'ReplacingMergeTree' }] };
      if (q.startsWith('DESCRIBE TABLE')) {
        const columns = [['id', 'String'], ['end', 'Int64'], ['a', 'Float64'], ['b', 'Int64'], ['featureVersion', 'String'], ['revision', 'UInt32'], ['end_time', 'DateTime']];
        return { json: async () => columns.map(([name, type]) => ({ name, type, default_type: name === 'end_time' ? 'ALIAS' : '' })) };
      }
      if (q.includes('uniq(')) return { json: async () => [{ n: String(latest.length) }] };
      if (q.includes('argMax(tuple(')) return { json: async () => (/% 1 = 0/.test(q) ? latest.map((row) => ({ latest: row })) : []) };
      return base(params);
    },
  } as unknown as ClickHouseClient;
  return { client, queries, inserts: fake.seen.inserts, ddl: fake.seen.ddl };
}

describe('scoreBatch', () => {
  test('scores the latest row per entity in chunks, writes the table and the store, skips non-finite rows', async () => {
    // 18.16 style: 64-bit integers as strings, the tuple as an array in column order.
    const latest = [
      ['1', '60000', 12.5, '1', 'v2', 0],
      ['2', '120000', 50, '2', 'v2', 1],
      ['3', '120000', 1000, '3', 'v2', 0], // the model answers NaN
      ['4', '180000', 7, null, 'v2', 0], // b is null: not a finite feature
      ['5', '240000', 99, '5', 'v2', 0],
    ];
    const server = fakeServer(latest);
    const store = new MemoryKeyValueStore();
    const model = toyModel();
    const progress: number[] = [];
    const result = await scoreBatch({ client: server.client, store, lifecycle, model, now: 1_700_000_000_000, chunkRows: 2, onProgress: (p) => progress.push(p.entities) });
    assert.deepEqual({ entities: result.entities, skipped: result.skipped, scoredAt: result.scoredAt }, { entities: 3, skipped: 2, scoredAt: 1_700_000_000_000 });
    assert.deepEqual(model.calls, [2, 1, 1]);
    assert.deepEqual(progress, [3]);
    const page = server.queries.find((q) => q.includes('argMax(tuple('))!;
    assert.equal(
      page,
      'SELECT argMax(tuple(`id`, `end`, `a`, `b`, `featureVersion`, `revision`), `end`) AS latest FROM `toy_features` FINAL ' +
        "WHERE `featureVersion` = 'v2' AND cityHash64(`id`) % 1 = 0 GROUP BY `id`",
    );
    assert.equal(server.inserts.length, 1);
    const rows = server.inserts[0]!.values as Array<Record<string, unknown>>;
    assert.deepEqual(rows.map((r) => [r.entity, r.probability, r.asOf]), [['thing-1', Math.fround(0.125), 60_000], ['thing-2', Math.fround(0.5), 120_000], ['thing-5', Math.fround(0.99), 240_000]]);
    assert.deepEqual(rows[0], { entity: 'thing-1', probability: Math.fround(0.125), model: 'toy-model@abcdef012345', modelVersion: 'abcdef012345', featureVersion: 'v2', asOf: 60_000, scoredAt: 1_700_000_000_000, runId: result.runId });
    assert.deepEqual(await store.get(batchPredictionKey('thing-2')), { probability: Math.fround(0.5), model: 'toy-model@abcdef012345', modelVersion: 'abcdef012345', featureVersion: 'v2', asOf: 120_000, scoredAt: 1_700_000_000_000 });
    assert.equal(await store.get(batchPredictionKey('thing-3')), undefined);
  });

  test('refuses a model trained on another feature version or with other feature names, before reading anything', async () => {
    const server = fakeServer([]);
    await assert.rejects(scoreBatch({ client: server.client, lifecycle, model: toyModel(), registered: { model: 'toy-model', version: 'abcdef012345', featureVersion: 'v1' } }), (error: unknown) => error instanceof ConfigError && /trained on features v1, but toy@v2 computes version v2/.test(error.message));
    await assert.rejects(scoreBatch({ client: server.client, lifecycle, model: toyModel(['b', 'a']) }), ConfigError);
    assert.deepEqual(server.queries, []);
  });
});

describe('batch predictions table', () => {
  test('MergeTree ordered by (entity, scoredAt), partitioned by month; inserts split into chunks in the dialect\'s format', async () => {
    for (const current of [false, true]) {
      const fake = fakeClickHouse(current);
      const ddl = batchPredictionsTableSql('bp', await detectDialect(fake.client));
      assert.match(ddl, /^CREATE TABLE IF NOT EXISTS `bp`\n\(\n  `entity` String( COMMENT .*)?,\n  `probability` Float64,\n(.*\n){6}  `asOf_time` DateTime ALIAS toDateTime\(intDiv\(`asOf`, 1000\)\)/);
      assert.match(ddl, /ENGINE = MergeTree\nPARTITION BY toYYYYMM\(toDateTime\(intDiv\(`scoredAt`, 1000\)\)\)\nORDER BY \(`entity`, `scoredAt`\)$/);
      const writer = await openBatchPredictionsTable(fake.client, 'bp', { maxRowsPerInsert: 10 });
      const rows: BatchPredictionRow[] = Array.from({ length: 25 }, (_, i) => ({ entity: `e${i}`, probability: i / 25, model: 'm@v', modelVersion: 'v', featureVersion: 'f1', asOf: i, scoredAt: 5, runId: 'r' }));
      await writer.insert(rows);
      assert.deepEqual(fake.seen.inserts.map((i) => i.values.length), [10, 10, 5]);
      const first = fake.seen.inserts[0]!;
      assert.equal(first.format, current ? 'JSONCompactEachRow' : 'JSONEachRow');
      assert.deepEqual(first.values[1], current ? ['e1', 0.04, 'm@v', 'v', 'f1', 1, 5, 'r'] : { entity: 'e1', probability: 0.04, model: 'm@v', modelVersion: 'v', featureVersion: 'f1', asOf: 1, scoredAt: 5, runId: 'r' });
      assert.deepEqual(first.settings, current ? { async_insert: 0, insert_deduplication_token: '' } : {});
    }
  });
});
