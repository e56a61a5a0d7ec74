import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeadLetter, LateRecord, StreamRecord } from '../../../src/core/batch.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { clickhouseDeadLetters } from '../../../src/sinks/clickhouse/dead-letter-table.ts';
import { insertTokenFunction } from '../../../src/clickhouse/insert-token.ts';
import { clickhouseLateRecords } from '../../../src/sinks/clickhouse/late-table.ts';
import { clickhouseTable, type ClickHouseTableOptions } from '../../../src/sinks/clickhouse/table-sink.ts';
import type { SinkSpec } from '../../../src/sinks/sink.ts';
import { fakeClickHouse } from '../../helpers/fake-clickhouse.ts';
import { SCHEMAS_DIR } from '../../helpers/services.ts';

/** Replay-safe tables without a server: their DDL, the existing-table check and insert tokens. */

type Existing = Parameters<typeof fakeClickHouse>[1];

async function run<T>(spec: SinkSpec<T>, rows: T[] = [], current = false, existing?: Existing) {
  const { client, seen } = fakeClickHouse(current, existing);
  const sink = spec.create({
    topology: 't', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client, schemasDir: SCHEMAS_DIR,
    state: () => Promise.reject(new Error('unused')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('unused')), fail: () => undefined,
  });
  await sink.open();
  if (rows.length > 0) sink.write(rows, []);
  await sink.close();
  return seen;
}

const payments = (options: Partial<ClickHouseTableOptions<Record<string, unknown>>> = {}) =>
  clickhouseTable<Record<string, unknown>>('payments', { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance', ...options });
const PAYMENT_COLUMNS = '  `paymentId` String,\n  `cardId` String,\n  `merchantId` String,\n  `amount` Float64,\n  `currency` String,\n  `country` String,\n  `ts` Int64,\n  `ts_time` DateTime ALIAS toDateTime(intDiv(`ts`, 1000)),\n  `_topic` String,\n  `_partition` Int32,\n  `_offset` Int64';

function record(i: number, partition = 0): StreamRecord<Record<string, unknown>> {
  return { value: { paymentId: `p-${i}`, cardId: `c-${i % 3}`, merchantId: 'm', amount: i, currency: 'EUR', country: 'DE', ts: 1_700_000_000_000 + i }, key: '', eventTime: 0, topic: 'payments', partition, offset: String(100 + i) };
}

test("dedupe: 'provenance' adds the provenance columns and ends the key with them; SETTINGS only where the server has the window", async () => {
  const head = `CREATE TABLE IF NOT EXISTS \`payments\`\n(\n${PAYMENT_COLUMNS}\n)\nENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMMDD(toDateTime(intDiv(\`ts\`, 1000)))\nORDER BY (\`cardId\`, \`ts\`, \`_topic\`, \`_partition\`, \`_offset\`)`;
  assert.deepEqual((await run(payments())).ddl, [head]);
  assert.deepEqual((await run(payments(), [], true)).ddl, [`${head}\nSETTINGS non_replicated_deduplication_window = 1000`]);
  // A key that names some provenance columns already keeps their place.
  assert.match((await run(payments({ orderBy: ['ts', '_partition'] }))).ddl[0]!, /ORDER BY \(`ts`, `_partition`, `_topic`, `_offset`\)$/);
  // Without dedupe: the plain MergeTree of before, byte for byte.
  assert.match((await run(payments({ dedupe: undefined, provenance: true }))).ddl[0]!, /\)\nENGINE = MergeTree\nPARTITION BY .*\nORDER BY \(`cardId`, `ts`\)$/);
});

test("dedupe: 'orderBy' is a ReplacingMergeTree without version; versionColumn implies it", async () => {
  const spec = clickhouseTable('features', { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', dedupe: 'orderBy' });
  assert.match((await run(spec, [], true)).ddl[0]!, /`max5m` Float64,\n  `featureVersion` String\n\)\nENGINE = ReplacingMergeTree\nPARTITION BY .*\nORDER BY \(`cardId`, `windowEnd`\)\nSETTINGS non_replicated_deduplication_window = 1000$/);
  const versioned = clickhouseTable('features', { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', versionColumn: 'revision' });
  assert.match((await run(versioned, [], true)).ddl[0]!, /ENGINE = ReplacingMergeTree\(`revision`\)\nPARTITION BY .*\nORDER BY \(`cardId`, `windowEnd`\)\nSETTINGS non_replicated_deduplication_window = 1000$/);
});

test('contradictory dedupe options fail when the topology is defined, naming field, problem and fix', () => {
  const cases: Array<[Partial<ClickHouseTableOptions<unknown>>, string]> = [
    [{ dedupe: 'offsets' as never }, 'Invalid configuration "clickhouse table payments dedupe": "offsets" is not a deduplication. Fix: use \'provenance\' (one row per Kafka record) or \'orderBy\' (one row per orderBy value)'],
    [{ provenance: false }, 'Invalid configuration "clickhouse table payments dedupe": \'provenance\' identifies rows by the provenance columns, but provenance is false. Fix: drop provenance: false, or use dedupe: \'orderBy\''],
    [{ versionColumn: 'revision' }, 'Invalid configuration "clickhouse table payments dedupe": \'provenance\' keeps one row per Kafka record, versionColumn "revision" one row per orderBy value. Fix: choose one: dedupe: \'provenance\' for raw events, versionColumn for revised results'],
  ];
  for (const [options, message] of cases) assert.throws(() => payments(options as never), { name: 'ConfigError', message });
});

test('a key that does not fix the partition, or no key at all, is refused for orderBy dedupe but fine for provenance', async () => {
  await assert.rejects(run(payments({ dedupe: 'orderBy', orderBy: ['cardId'] })), {
    name: 'ConfigError',
    message: 'Invalid configuration "clickhouse table payments timeField": "ts" partitions a deduplicated table but is not in orderBy, so copies of one key could land in different partitions and never replace each other. Fix: add "ts" to orderBy, or drop timeField',
  });
  await assert.rejects(run(payments({ dedupe: 'orderBy', orderBy: [], timeField: undefined })), { name: 'ConfigError', message: /^Invalid configuration "clickhouse table payments dedupe": needs an orderBy key/ });
  // The provenance fixes every field of an event, its day included.
  assert.match((await run(payments({ orderBy: ['cardId'] }))).ddl[0]!, /ORDER BY \(`cardId`, `_topic`, `_partition`, `_offset`\)$/);
  assert.match((await run(payments({ orderBy: [], timeField: undefined }))).ddl[0]!, /ORDER BY \(`_topic`, `_partition`, `_offset`\)$/);
});

test('an existing table with another engine, key or version is refused at open', async () => {
  const table = (engine: string, engineFull: string, key: string) => () => ({ engine, engine_full: `${engineFull} ORDER BY (${key})`, sorting_key: key });
  await assert.rejects(run(payments(), [], false, table('MergeTree', 'MergeTree', 'cardId, ts')), {
    name: 'ConfigError',
    message: /^Invalid configuration "clickhouse table payments": the table exists with engine MergeTree, not ReplacingMergeTree; CREATE TABLE IF NOT EXISTS leaves an existing table as it is\. Fix: rename it \(RENAME TABLE payments TO payments_old\), start again so that the sink creates it, then copy the rows \(INSERT INTO payments \(paymentId, .*, _offset\) SELECT \.\.\. FROM payments_old\); or drop it; or remove dedupe$/,
  });
  await assert.rejects(run(payments(), [], false, table('ReplacingMergeTree', 'ReplacingMergeTree', 'cardId, ts')), {
    message: /the table exists with ORDER BY \(cardId, ts\), not \(cardId, ts, _topic, _partition, _offset\), so its rows are not one per key of this sink;/,
  });
  await assert.rejects(run(payments({ dedupe: undefined, versionColumn: 'revision', orderBy: ['cardId', 'ts'] }), [], false, table('ReplacingMergeTree', 'ReplacingMergeTree(`amount`)', 'cardId, ts')), {
    message: /the table exists with engine ReplacingMergeTree\(amount\), not ReplacingMergeTree\(revision\);.*or remove versionColumn$/,
  });
  // The same key columns in another order (and chDB's '(a)' for a one-column key) are accepted.
  await run(payments(), [], false, table('ReplacingMergeTree', 'ReplacingMergeTree', '_topic, _partition, _offset, ts, cardId'));
  await run(clickhouseTable('t', { schema: 'payment.avsc', orderBy: ['paymentId'], dedupe: 'orderBy' }), [], false, table('ReplacingMergeTree', 'ReplacingMergeTree', '(paymentId)'));
  // Dead letters and late records created by an earlier version: refused, with the opt-out.
  await assert.rejects(run(clickhouseDeadLetters('dl'), [], false, table('MergeTree', 'MergeTree', 'topology, topic, partition, offset')), { message: /or drop it; or pass \{ dedupe: false \} to keep it as it is \(replays then add rows\)$/ });
  await run(clickhouseDeadLetters('dl', { dedupe: false }), [], false, table('MergeTree', 'MergeTree', 'topology, topic, partition, offset'));
});

test('dead letters and late records: keyed by provenance and step, or the old tables with dedupe: false', async () => {
  assert.match((await run(clickhouseDeadLetters('dl'), [], true)).ddl[0]!, /\nENGINE = ReplacingMergeTree\nORDER BY \(`topology`, `topic`, `partition`, `offset`, `step`, `key`, `event_timestamp`\)\nSETTINGS non_replicated_deduplication_window = 1000$/);
  assert.match((await run(clickhouseDeadLetters('dl', { dedupe: false }), [], true)).ddl[0]!, /\nENGINE = MergeTree\nORDER BY \(`topology`, `topic`, `partition`, `offset`\)$/);
  assert.match((await run(clickhouseLateRecords('late'))).ddl[0]!, /\nENGINE = ReplacingMergeTree\nORDER BY \(`topology`, `step`, `event_time`, `topic`, `partition`, `offset`, `key`, `payload`\)$/);
  assert.match((await run(clickhouseLateRecords('late', { dedupe: false }))).ddl[0]!, /\nENGINE = MergeTree\nORDER BY \(`topology`, `step`, `event_time`\)$/);
});

test('tokens: sent where the server has them, the same for the same rows in any order and either format', async () => {
  // Fetch batches of 10 records from two partitions, as a source hands them out.
  const rows = Array.from({ length: 60 }, (_, i) => ({ ...record(i, Math.floor(i / 10) % 2), offset: String(100 + Math.floor(i / 20) * 10 + (i % 10)) }));
  assert.deepEqual((await run(payments(), rows)).inserts.map((i) => i.settings), [{}], '18.16: no token, no async_insert');
  const [compact] = (await run(payments(), rows, true)).inserts;
  assert.equal(compact!.format, 'JSONCompactEachRow');
  const token = compact!.settings.insert_deduplication_token as string;
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(compact!.settings.async_insert, 0);
  assert.equal((await run(payments(), [...rows].reverse(), true)).inserts[0]!.settings.insert_deduplication_token, token);
  const shuffled = rows.map((r, i) => ({ r, k: (i * 37) % 61 })).sort((a, b) => a.k - b.k).map((x) => x.r);
  assert.equal((await run(payments(), shuffled, true)).inserts[0]!.settings.insert_deduplication_token, token);
  const columns = compact!.columns.map((c) => c.replace(/`/g, ''));
  const byName = insertTokenFunction({ columns: ['cardId', 'ts', '_topic', '_partition', '_offset'], source: { topic: '_topic', partition: '_partition', offset: '_offset' } }, columns, false);
  assert.equal(byName(compact!.values.map((v) => Object.fromEntries(columns.map((c, i) => [c, (v as unknown[])[i]])))), token, 'JSONEachRow objects give the same token');
  // One offset more or less, or another partition, is another insert.
  assert.notEqual((await run(payments(), rows.slice(1), true)).inserts[0]!.settings.insert_deduplication_token, token);
  assert.notEqual((await run(payments(), rows.map((r) => ({ ...r, partition: r.partition + 2 })), true)).inserts[0]!.settings.insert_deduplication_token, token);
  // A table without an identity names an empty token (chDB keeps settings for the session).
  assert.equal((await run(payments({ dedupe: undefined }), rows, true)).inserts[0]!.settings.insert_deduplication_token, '');
});

test('tokens of late records and dead letters cover their whole key; derived rows are identified by their key and version', async () => {
  const late = (step: string, offset: string): LateRecord => ({ step, key: 'c', eventTime: 5, watermark: 9, topic: 't', partition: 0, offset, value: { a: 1 } });
  const tokenOf = async <T,>(spec: SinkSpec<T>, rows: T[]) => (await run(spec, rows, true)).inserts[0]!.settings.insert_deduplication_token;
  const lateRows = [late('card-1m', '7'), late('card-1m', '8')];
  assert.notEqual(await tokenOf(clickhouseLateRecords(), lateRows), await tokenOf(clickhouseLateRecords(), lateRows.map((l) => ({ ...l, step: 'card-5m' }))));
  // Outputs of a join share their left record's provenance: the payload tells them apart.
  assert.notEqual(await tokenOf(clickhouseLateRecords(), lateRows), await tokenOf(clickhouseLateRecords(), lateRows.map((l) => ({ ...l, value: { a: 2 } }))));
  const letter: DeadLetter = { step: 'score', topic: '', partition: -1, offset: '', error: 'x', raw: null, key: 'c', timestamp: 1 };
  assert.notEqual(await tokenOf(clickhouseDeadLetters(), [letter]), await tokenOf(clickhouseDeadLetters(), [{ ...letter, key: 'd' }]));

  const features = clickhouseTable<Record<string, unknown>>('f', { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], versionColumn: 'revision' });
  const window = (cardId: string, revision: number, count1m: number): StreamRecord<Record<string, unknown>> => ({ value: { cardId, windowStart: 0, windowEnd: 60_000, count1m, sum1m: 1, max1m: 1, count5m: 1, sum5m: 1, max5m: 1, revision }, key: '', eventTime: 0, topic: '', partition: -1, offset: '' });
  const base = await tokenOf(features, [window('a', 0, 1), window('b', 0, 1)]);
  assert.equal(await tokenOf(features, [window('b', 0, 1), window('a', 0, 1)]), base);
  assert.notEqual(await tokenOf(features, [window('a', 1, 1), window('b', 0, 1)]), base, 'a new revision is a new insert');
  assert.notEqual(await tokenOf(features, [window('a', 0, 1), window('c', 0, 1)]), base);
  // Values outside the key and version do not count: the table holds one row per key and revision.
  assert.equal(await tokenOf(features, [window('a', 0, 2), window('b', 0, 1)]), base);
});
