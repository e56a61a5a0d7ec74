import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { StreamRecord } from '../../../src/core/batch.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { clickhouseTable, type ClickHouseTableOptions } from '../../../src/sinks/clickhouse/table-sink.ts';
import { existingTable, fakeExec } from '../../helpers/fake-clickhouse.ts';

/**
 * Without a server: a fake client answers the dialect queries as 18.16 (JSONEachRow) or as a
 * current server (JSONCompactEachRow), reports the table's engine, and keeps DDL and inserts.
 */
interface Seen { ddl: string[]; inserts: Array<{ columns: string[]; values: unknown[] }> }

function fakeClient(compact: boolean, engine: string | undefined, seen: Seen): ClickHouseClient {
  const answer = (query: string): unknown[] => {
    if (query.includes('version()')) return [{ version: compact ? '26.7.2.1' : '18.16.1' }];
    if (query.includes('SELECT engine, engine_full, sorting_key FROM system.tables')) return [existingTable(seen.ddl.at(-1)!, engine)];
    if (query.includes('system.tables')) return [{ name: 'formats' }];
    if (query.includes('system.formats')) return compact ? [{ name: 'JSONCompactEachRow' }] : [];
    return [];
  };
  return {
    query: async ({ query }: { query: string }) => ({ json: async () => answer(query) }),
    command: async ({ query }: { query: string }) => void seen.ddl.push(query),
    exec: fakeExec(({ columns, values }) => seen.inserts.push({ columns, values })),
  } as unknown as ClickHouseClient;
}

const schemasDir = fileURLToPath(new URL('../../../schemas', import.meta.url));
const FIELDS = '(\n  `cardId` String,\n  `windowStart` Int64,\n  `windowStart_time` DateTime ALIAS toDateTime(intDiv(`windowStart`, 1000)),\n  `windowEnd` Int64,\n  `windowEnd_time` DateTime ALIAS toDateTime(intDiv(`windowEnd`, 1000)),\n  `count1m` Int64,\n  `sum1m` Float64,\n  `max1m` Float64,\n  `count5m` Int64,\n  `sum5m` Float64,\n  `max5m` Float64,\n  `featureVersion` String';
const PARTITION_ORDER = 'PARTITION BY toYYYYMMDD(toDateTime(intDiv(`windowEnd`, 1000)))\nORDER BY (`cardId`, `windowEnd`)';
const base = { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd' };

/** Opens a sink on the fake client, writes `values` in one insert and closes it; returns what it sent. */
async function run(options: ClickHouseTableOptions<Record<string, unknown>>, values: Array<Record<string, unknown>> = [], compact = false, engine: string | undefined = undefined, dir = schemasDir): Promise<Seen> {
  const seen: Seen = { ddl: [], inserts: [] };
  const client = fakeClient(compact, engine, seen);
  const sink = clickhouseTable('features', options).create({
    topology: 't', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client, schemasDir: dir,
    state: () => Promise.reject(new Error('unused')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('unused')), fail: () => undefined,
  });
  await sink.open();
  if (values.length > 0) sink.write(values.map((value): StreamRecord<Record<string, unknown>> => ({ value, key: '', eventTime: 0, topic: '', partition: -1, offset: '' })), []);
  await sink.close();
  return seen;
}

test('without versionColumn the DDL is the plain MergeTree statement, unchanged', async () => {
  const { ddl } = await run(base);
  assert.deepEqual(ddl, [`CREATE TABLE IF NOT EXISTS \`features\`\n${FIELDS}\n)\nENGINE = MergeTree\n${PARTITION_ORDER}`]);
});

test('versionColumn absent from the schema: ReplacingMergeTree and an added UInt32 column', async () => {
  const { ddl } = await run({ ...base, versionColumn: 'revision' });
  assert.deepEqual(ddl, [
    // No COMMENT: the fake dialect has no column comments (the integration test has them).
    `CREATE TABLE IF NOT EXISTS \`features\`\n${FIELDS},\n  \`revision\` UInt32 DEFAULT 0\n)\nENGINE = ReplacingMergeTree(\`revision\`)\n${PARTITION_ORDER}`,
  ]);
});

test('the added revision is the row field, 0 when absent, in both insert formats, before provenance', async () => {
  const row = { cardId: 'c', windowStart: 1, windowEnd: 2, count1m: 3, sum1m: 4, max1m: 5, count5m: 6, sum5m: 7, max5m: 8 };
  for (const compact of [false, true]) {
    const { inserts } = await run({ ...base, versionColumn: 'revision', provenance: true }, [{ ...row, revision: 4 }, row], compact);
    assert.equal(inserts.length, 1);
    assert.deepEqual(inserts[0]!.columns.slice(-4), ['`revision`', '`_topic`', '`_partition`', '`_offset`']);
    const tails = inserts[0]!.values.map((v) => (Array.isArray(v) ? v.slice(-4) : [(v as Record<string, unknown>).revision, (v as Record<string, unknown>)._topic, (v as Record<string, unknown>)._partition, (v as Record<string, unknown>)._offset]));
    assert.deepEqual(tails, [[4, '', -1, -1], [0, '', -1, -1]]);
  }
});

test('a revision that is not a UInt32 fails the write with the field name', async () => {
  await assert.rejects(run({ ...base, versionColumn: 'revision' }, [{ cardId: 'c', windowEnd: 2, revision: -1 }]), {
    name: 'SinkError',
    message: 'sink clickhouse:features: turning a record into a row failed: field "revision" is -1, not an integer from 0 to 4294967295',
  });
});

test('an existing table with another engine is refused at open', async () => {
  await assert.rejects(run({ ...base, versionColumn: 'revision' }, [], false, 'MergeTree'), { name: 'ConfigError', message: /^Invalid configuration "clickhouse table features": the table exists with engine MergeTree, not ReplacingMergeTree\(revision\);/ });
});

test('invalid versioned tables fail with ConfigError naming the field, problem and fix', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-schemas-'));
  await writeFile(join(dir, 'v.avsc'), JSON.stringify({ type: 'record', name: 'V', fields: [
    { name: 'id', type: 'string' }, { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } }, { name: 'n', type: 'int' },
    { name: 'maybe', type: ['null', 'long'] }, { name: 'score', type: 'double' },
  ] }));
  const cases: Array<[ClickHouseTableOptions<Record<string, unknown>>, string]> = [
    [{ schema: 'v.avsc', orderBy: ['id'], versionColumn: 'maybe' }, 'Invalid configuration "clickhouse table features versionColumn": "maybe" is Nullable(Int64), and a version column cannot be Nullable. Fix: make the Avro field a plain int or long, or use one of: ts, n, or a name the schema lacks (added as maybe UInt32 DEFAULT 0)'],
    [{ schema: 'v.avsc', orderBy: ['id'], versionColumn: 'score' }, 'Invalid configuration "clickhouse table features versionColumn": "score" is Float64, not an integer column. Fix: make the Avro field an int or long, or use one of: ts, n, or a name the schema lacks (added as score UInt32 DEFAULT 0)'],
    [{ schema: 'v.avsc', orderBy: ['id'], versionColumn: 'ts_time' }, 'Invalid configuration "clickhouse table features versionColumn": "ts_time" is not a stored column. Fix: use one of: ts, n, or a name the schema lacks (added as ts_time UInt32 DEFAULT 0)'],
    [{ schema: 'v.avsc', orderBy: ['id', 'n'], versionColumn: 'n' }, 'Invalid configuration "clickhouse table features versionColumn": "n" is part of orderBy, so no revision would ever replace another. Fix: remove it from orderBy: the key names the window, the version its revision'],
    [{ schema: 'v.avsc', orderBy: [], versionColumn: 'n' }, 'Invalid configuration "clickhouse table features versionColumn": needs an orderBy key (with none, every row would replace every other). Fix: set orderBy to the natural key, e.g. ["cardId", "windowEnd"]'],
    [{ schema: 'v.avsc', orderBy: ['id', 'missing'], versionColumn: 'revision' }, 'Invalid configuration "clickhouse table features orderBy": "missing" is not a stored column. Fix: order by some of: id, ts, n, maybe, score, revision'],
    [{ schema: 'v.avsc', orderBy: ['id'], timeField: 'ts', versionColumn: 'revision' }, 'Invalid configuration "clickhouse table features timeField": "ts" partitions a versioned table but is not in orderBy, so revisions of one key could land in different partitions and never replace each other. Fix: add "ts" to orderBy, or drop timeField'],
  ];
  try {
    for (const [options, message] of cases) await assert.rejects(run(options, [], false, undefined, dir), { name: 'ConfigError', message });
    // A schema int is used as the version as is: no column added.
    const { ddl } = await run({ schema: 'v.avsc', orderBy: ['id', 'ts'], timeField: 'ts', versionColumn: 'n' }, [], false, undefined, dir);
    assert.match(ddl[0]!, /`score` Float64\n\)\nENGINE = ReplacingMergeTree\(`n`\)\nPARTITION BY toYYYYMMDD\(toDateTime\(intDiv\(`ts`, 1000\)\)\)\nORDER BY \(`id`, `ts`\)$/);
  } finally {
    await rm(dir, { recursive: true });
  }
});
