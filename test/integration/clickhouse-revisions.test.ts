import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { StreamRecord } from '../../src/core/batch.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { clickhouseTable } from '../../src/sinks/clickhouse/table-sink.ts';
import type { Sink, SinkEnvironment } from '../../src/sinks/sink.ts';
import { clickhouseTargets } from '../helpers/clickhouse-targets.ts';

/**
 * Versioned tables (versionColumn → ReplacingMergeTree) on the 18.16 server (CLICKHOUSE_URL,
 * required) and on embedded chDB: the same DDL, the same inserts, the same exact answers.
 */
const schemasDir = fileURLToPath(new URL('../../schemas', import.meta.url));
const T0 = 1_700_000_000_000; // 2023-11-14 22:13:20 UTC
const W1 = T0 + 40_000; // 22:14:00, day 20231114
const W2 = T0 + 7_200_000 + 40_000; // 00:14:00 next day: a second partition

interface Features { cardId: string; windowStart: number; windowEnd: number; count1m: number; sum1m: number; max1m: number; count5m: number; sum5m: number; max5m: number; revision?: number }

const targets = clickhouseTargets();

for (const target of targets) describe(target.label, () => revisionSuite(target.connect, target.cleanup));

function revisionSuite(connect: () => Promise<ClickHouseClient>, cleanup?: () => Promise<void>): void {
  const suffix = randomBytes(4).toString('hex');
  const tables = { versioned: `features_rev_${suffix}`, own: `own_rev_${suffix}`, plain: `features_plain_${suffix}` };
  let client: ClickHouseClient;
  let env: SinkEnvironment;
  const rows = async <T,>(query: string): Promise<T[]> => (await client.query({ query, format: 'JSONEachRow' })).json<T>();
  // Where the server has it (chDB, not 18.16), a replacing table remembers its last 1000 insert tokens.
  const windowSetting = async () =>
    (await rows(`SELECT name FROM system.merge_tree_settings WHERE name = 'non_replicated_deduplication_window'`)).length > 0 ? 'non_replicated_deduplication_window = 1000, ' : '';
  const engineFull = async (table: string) => (await rows<{ engine_full: string }>(`SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = '${table}'`))[0]?.engine_full;

  before(async () => {
    client = await connect();
    env = {
      topology: 'it-revisions', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client,
      state: () => Promise.reject(new Error('no state store in this test')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('no Kafka in this test')), schemasDir,
      fail: () => undefined,
    };
  });

  after(async () => {
    if (client) {
      for (const table of Object.values(tables)) await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
      await client.close();
    }
    await cleanup?.();
  });

  test('card_features + an added revision column: one row per window with the highest revision', async () => {
    const sink = clickhouseTable<Features>(tables.versioned, { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', versionColumn: 'revision', maxRows: 1000 }).create(env);
    await sink.open();
    assert.equal(await engineFull(tables.versioned), `ReplacingMergeTree(revision) PARTITION BY toYYYYMMDD(toDateTime(intDiv(windowEnd, 1000))) ORDER BY (cardId, windowEnd) SETTINGS ${await windowSetting()}index_granularity = 8192`);
    const [revision] = await rows<{ type: string; default_expression: string }>(`SELECT type, default_expression FROM system.columns WHERE database = currentDatabase() AND table = '${tables.versioned}' AND name = 'revision'`);
    assert.equal(revision!.type, 'UInt32');
    // Merges stopped: every inserted row stays physical until OPTIMIZE, so the counts are exact.
    await client.command({ query: `SYSTEM STOP MERGES ${tables.versioned}` });
    const batches: Features[][] = [
      [features('card-1', W1, 0), features('card-2', W1, 0), { ...features('card-1', W2, 0), revision: undefined }], // a row without revision: 0
      [features('card-1', W1, 1), features('card-1', W1, 2), features('card-2', W1, 1)],
      [features('card-1', W1, 1), features('card-1', W1, 2), features('card-2', W1, 1), features('card-1', W2, 0)], // a replay: same revisions again
      [features('card-2', W1, 0), features('card-1', W1, 3)], // an old revision inserted last loses to a higher one
    ];
    await writeBatches(sink, batches);
    await sink.close();
    // Current servers (optimize_on_insert=1, chDB) already collapse the key's revisions within one
    // insert block (batches 2 and 3 each hold card-1@W1 twice); 18.16 stores all 12 rows.
    const onInsert = await rows<{ value: string }>("SELECT value FROM system.settings WHERE name = 'optimize_on_insert'");
    assert.equal(Number((await rows<{ n: string | number }>(`SELECT count() AS n FROM ${tables.versioned}`))[0]!.n), onInsert[0]?.value === '1' ? 10 : 12);

    const latest = [
      { ...features('card-1', W1, 3), revision: 3 },
      { ...features('card-1', W2, 0), revision: 0 },
      { ...features('card-2', W1, 1), revision: 1 },
    ];
    const final = await rows<Record<string, unknown>>(`SELECT cardId, windowStart, windowEnd, count1m, sum1m, max1m, count5m, sum5m, max5m, revision FROM ${tables.versioned} FINAL ORDER BY cardId, windowEnd`);
    assert.deepEqual(final.map(numbers('windowStart', 'windowEnd', 'count1m', 'count5m')), latest);
    const argMax = await rows<Record<string, unknown>>(
      `SELECT cardId, argMax(windowStart, revision) AS windowStart, windowEnd, argMax(count1m, revision) AS count1m, argMax(sum1m, revision) AS sum1m, argMax(max1m, revision) AS max1m,
              argMax(count5m, revision) AS count5m, argMax(sum5m, revision) AS sum5m, argMax(max5m, revision) AS max5m, max(revision) AS latest
       FROM ${tables.versioned} GROUP BY cardId, windowEnd ORDER BY cardId, windowEnd`,
    );
    // Not `max(revision) AS revision`: ClickHouse would read that alias inside the argMax calls.
    assert.deepEqual(argMax.map(({ latest: revision, ...row }) => ({ ...numbers('windowStart', 'windowEnd', 'count1m', 'count5m')(row), revision })), latest);

    await client.command({ query: `SYSTEM START MERGES ${tables.versioned}` });
    await client.command({ query: `OPTIMIZE TABLE ${tables.versioned} FINAL` });
    assert.equal(Number((await rows<{ n: string | number }>(`SELECT count() AS n FROM ${tables.versioned}`))[0]!.n), 3);
    const merged = await rows<Record<string, unknown>>(`SELECT cardId, windowStart, windowEnd, count1m, sum1m, max1m, count5m, sum5m, max5m, revision FROM ${tables.versioned} ORDER BY cardId, windowEnd`);
    assert.deepEqual(merged.map(numbers('windowStart', 'windowEnd', 'count1m', 'count5m')), latest);
  });

  test('a version field of the schema itself is used as is (no added column)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-schemas-'));
    await writeFile(join(dir, 'scored.avsc'), JSON.stringify({ type: 'record', name: 'Scored', fields: [{ name: 'id', type: 'string' }, { name: 'score', type: 'double' }, { name: 'version', type: 'long' }] }));
    const sink = clickhouseTable<{ id: string; score: number; version: number }>(tables.own, { schema: 'scored.avsc', orderBy: ['id'], versionColumn: 'version' }).create({ ...env, schemasDir: dir });
    await sink.open();
    await rm(dir, { recursive: true });
    // engine_full writes a one-column key as `id` on 18.16 and `(id)` on chDB (sorting_key too).
    assert.equal((await engineFull(tables.own))!.replace(/ORDER BY \(id\)/, 'ORDER BY id'), `ReplacingMergeTree(version) ORDER BY id SETTINGS ${await windowSetting()}index_granularity = 8192`);
    const columns = await rows<{ name: string; type: string }>(`DESCRIBE TABLE ${tables.own}`);
    assert.deepEqual(columns.map((c) => `${c.name} ${c.type}`), ['id String', 'score Float64', 'version Int64']);
    await writeBatches(sink, [[{ id: 'a', score: 0.9, version: 7 }, { id: 'b', score: 0.1, version: 1 }], [{ id: 'a', score: 0.2, version: 2 }, { id: 'b', score: 0.3, version: 5 }]]);
    await sink.close();
    const final = await rows<Record<string, unknown>>(`SELECT id, score, version FROM ${tables.own} FINAL ORDER BY id`);
    assert.deepEqual(final.map(numbers('version')), [{ id: 'a', score: 0.9, version: 7 }, { id: 'b', score: 0.3, version: 5 }]);
  });

  test('without versionColumn the table is a plain MergeTree; a versioned sink then refuses it', async () => {
    const plain = clickhouseTable<Features>(tables.plain, { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd' }).create(env);
    await plain.open();
    await plain.close();
    assert.equal(await engineFull(tables.plain), 'MergeTree PARTITION BY toYYYYMMDD(toDateTime(intDiv(windowEnd, 1000))) ORDER BY (cardId, windowEnd) SETTINGS index_granularity = 8192');
    const columns = await rows<{ name: string }>(`SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '${tables.plain}' AND name = 'revision'`);
    assert.deepEqual(columns, []);
    const versioned = clickhouseTable<Features>(tables.plain, { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', versionColumn: 'revision' }).create(env);
    await assert.rejects(versioned.open(), {
      name: 'ConfigError',
      message:
        `Invalid configuration "clickhouse table ${tables.plain}": the table exists with engine MergeTree, not ReplacingMergeTree(revision); CREATE TABLE IF NOT EXISTS leaves an existing table as it is. ` +
        `Fix: rename it (RENAME TABLE ${tables.plain} TO ${tables.plain}_old), start again so that the sink creates it, then copy the rows ` +
        `(INSERT INTO ${tables.plain} (cardId, windowStart, windowEnd, count1m, sum1m, max1m, count5m, sum5m, max5m, featureVersion, revision) SELECT ... FROM ${tables.plain}_old); or drop it; or remove versionColumn`,
    });
  });
}

/** Values depend on the revision, so the row kept shows which revision won. */
function features(cardId: string, windowEnd: number, revision: number): Features {
  const n = 10 * (revision + 1) + (cardId === 'card-2' ? 5 : 0);
  return { cardId, windowStart: windowEnd - 300_000, windowEnd, count1m: n, sum1m: n * 1.5, max1m: n + 0.25, count5m: n * 3, sum5m: n * 4.5, max5m: n + 0.75, revision };
}

/** Each batch is one INSERT: written, then flushed. */
async function writeBatches<T>(sink: Sink<StreamRecord<T>>, batches: T[][]): Promise<void> {
  for (const batch of batches) {
    sink.write(batch.map((value) => ({ value, key: '', eventTime: 0, topic: '', partition: -1, offset: '' })), []);
    await sink.flush();
  }
}

/** 18.16 returns 64-bit integers as JSON strings, chDB as numbers: compare both as numbers. */
function numbers(...keys: string[]): (row: Record<string, unknown>) => Record<string, unknown> {
  return (row) => {
    const copy = { ...row };
    for (const key of keys) copy[key] = Number(copy[key]);
    return copy;
  };
}
