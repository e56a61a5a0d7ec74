import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { StreamRecord } from '../../../src/core/batch.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { clickhouseTable, isClickHouseTableSpec, type ClickHouseTableOptions } from '../../../src/sinks/clickhouse/table-sink.ts';
import { clickhouseDeadLetters } from '../../../src/sinks/clickhouse/dead-letter-table.ts';
import { clickhouseLateRecords } from '../../../src/sinks/clickhouse/late-table.ts';
import { withRollups, countRows } from '../../../src/sinks/clickhouse/rollup-sink.ts';
import type { SinkEnvironment } from '../../../src/sinks/sink.ts';
import { existingTable, fakeClickHouse } from '../../helpers/fake-clickhouse.ts';

/** `origin: true` tables without a server: the DDL, the existing-table check, the rows and their insert tokens. */

const schemasDir = fileURLToPath(new URL('../../../schemas', import.meta.url));
const features = { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', versionColumn: 'revision', origin: true };
const row = { cardId: 'c', windowStart: 1, windowEnd: 2, count1m: 3, sum1m: 4, max1m: 5, count5m: 6, sum5m: 7, max5m: 8, featureVersion: 'v1' };

function environment(client: ClickHouseClient, origin?: string): SinkEnvironment {
  return {
    topology: 't', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client, schemasDir,
    state: () => Promise.reject(new Error('unused')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('unused')), fail: () => undefined,
    ...(origin === undefined ? {} : { origin }),
  };
}

/** Opens the sink on a fake 18.16 (or current) server, writes the rows in one insert, closes it. */
async function run(options: ClickHouseTableOptions<Record<string, unknown>>, values: Array<Record<string, unknown>>, opts: { current?: boolean; origin?: string; existing?: (ddl: string) => ReturnType<typeof existingTable> } = {}) {
  const { client, seen } = fakeClickHouse(opts.current ?? false, opts.existing);
  const sink = clickhouseTable('features', options).create(environment(client, opts.origin));
  await sink.open();
  if (values.length > 0) sink.write(values.map((value, i): StreamRecord<Record<string, unknown>> => ({ value, key: '', eventTime: 0, topic: 'payments', partition: 0, offset: String(i) })), []);
  await sink.close();
  return seen;
}

test('origin: a String column defaulting to online after the version column, last in the ORDER BY key', async () => {
  const { ddl } = await run(features, []);
  assert.equal(ddl.length, 1);
  assert.match(ddl[0]!, /,\n {2}`featureVersion` String,\n {2}`revision` UInt32 DEFAULT 0,\n {2}`origin` String DEFAULT 'online'\n\)\nENGINE = ReplacingMergeTree\(`revision`\)\n/);
  assert.match(ddl[0]!, /\nORDER BY \(`cardId`, `windowEnd`, `origin`\)$/);
});

test('origin with provenance: origin before the provenance columns, the key ends with the provenance then origin', async () => {
  const { ddl } = await run({ schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance', origin: true }, []);
  assert.match(ddl[0]!, /`origin` String DEFAULT 'online',\n {2}`_topic` String,\n {2}`_partition` Int32,\n {2}`_offset` Int64\n\)/);
  assert.match(ddl[0]!, /ORDER BY \(`cardId`, `ts`, `_topic`, `_partition`, `_offset`, `origin`\)$/);
});

test('without origin the table is as before: no origin column, no origin in the key', async () => {
  const { ddl } = await run({ ...features, origin: false }, []);
  assert.doesNotMatch(ddl[0]!, /origin/);
  assert.match(ddl[0]!, /ORDER BY \(`cardId`, `windowEnd`\)$/);
});

test("rows carry the environment's origin ('online' by default) in both insert formats", async () => {
  for (const current of [false, true]) {
    for (const [origin, expected] of [[undefined, 'online'], ['backfill', 'backfill']] as const) {
      const { inserts } = await run(features, [row, { ...row, cardId: 'd' }], { current, origin });
      assert.equal(inserts.length, 1);
      const columns = inserts[0]!.columns;
      assert.deepEqual(columns.slice(-2), ['`revision`', '`origin`']);
      const stored = inserts[0]!.values.map((v) => (Array.isArray(v) ? v.at(-1) : (v as Record<string, unknown>).origin));
      assert.deepEqual(stored, [expected, expected], `${current ? 'JSONCompactEachRow' : 'JSONEachRow'}, origin ${origin}`);
    }
  }
});

test('an existing table keyed with origin passes the check; one created before origin fails with the fix', async () => {
  await run(features, [], { existing: (ddl) => existingTable(ddl) });
  const withoutOrigin = (ddl: string) => {
    const table = existingTable(ddl);
    return { ...table, sorting_key: 'cardId, windowEnd', engine_full: table.engine_full.replace(', origin', '') };
  };
  await assert.rejects(run(features, [], { existing: withoutOrigin }), (error: Error) => {
    assert.equal(error.name, 'ConfigError');
    assert.match(error.message, /ORDER BY \(cardId, windowEnd\), not \(cardId, windowEnd, origin\)/);
    assert.match(error.message, /RENAME TABLE features TO features_old/);
    return true;
  });
});

test('insert tokens differ by origin, also for a table deduplicated by provenance', async () => {
  const raw = { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance' as const, origin: true };
  const payment = { paymentId: 'p', cardId: 'c', merchantId: 'm', amount: 1.5, currency: 'EUR', country: 'DE', ts: 5 };
  for (const [options, value] of [[features, row], [raw, payment]] as const) {
    const online = await run(options, [value], { current: true });
    const again = await run(options, [value], { current: true, origin: 'online' });
    const backfill = await run(options, [value], { current: true, origin: 'backfill' });
    const token = (seen: typeof online) => seen.inserts[0]!.settings.insert_deduplication_token;
    assert.equal(typeof token(online), 'string');
    assert.equal(token(again), token(online), 'the same rows give the same token');
    assert.notEqual(token(backfill), token(online), `${options.schema}: a backfill's rows are not dropped as retries of the online insert`);
  }
});

test('ClickHouse specs declare their kind; table specs (also with rollups) their table, schema, time field and origin', () => {
  const table = clickhouseTable('features', features);
  assert.equal(table.kind, 'clickhouse');
  assert.deepEqual([table.table, table.schema, table.timeField, table.origin], ['features', 'card_features.avsc', 'windowEnd', true]);
  assert.equal(isClickHouseTableSpec(table), true);
  const rolled = withRollups(table, [{ name: 'per_card', groupBy: { cardId: 'cardId' }, measures: { rows: countRows() } }]);
  assert.equal(isClickHouseTableSpec(rolled), true);
  assert.equal((rolled as typeof table).table, 'features');
  assert.match(rolled.description, /rollups per_card/);
  assert.equal(clickhouseLateRecords('late').kind, 'clickhouse');
  assert.equal(clickhouseDeadLetters('dead').kind, 'clickhouse');
  assert.equal(isClickHouseTableSpec(clickhouseLateRecords('late')), false);
});
