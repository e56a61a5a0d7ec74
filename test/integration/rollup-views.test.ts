import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { StreamRecord } from '../../src/core/batch.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { clickhouseTable } from '../../src/sinks/clickhouse/table-sink.ts';
import { countDistinct, countRows, withRollups } from '../../src/sinks/clickhouse/rollup-sink.ts';
import type { Sink, SinkEnvironment } from '../../src/sinks/sink.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { cardFraudRollups, type FraudPrediction } from '../../topologies/card-fraud.ts';
import { clickhouseTargets, type ClickHouseTarget } from '../helpers/clickhouse-targets.ts';

/**
 * The card-fraud rollups (fraud_rate_per_minute, merchant_stats_per_hour) as materialized views
 * on the 18.16 server (CLICKHOUSE_URL, required) and on embedded chDB: the same DDL, the same
 * inserts, the same exact numbers, replays included.
 */
const schemasDir = fileURLToPath(new URL('../../schemas', import.meta.url));
const M1 = 1_700_000_040_000; // 2023-11-14 22:14:00 UTC
const M2 = M1 + 60_000; // 22:15:00
const H1 = 1_699_999_200_000; // 22:00:00, the hour of M1 and M2
const H2 = H1 + 3_600_000; // 23:00:00

for (const target of clickhouseTargets()) describe(target.label, () => rollupSuite(target));

function rollupSuite(target: ClickHouseTarget): void {
  const prefix = `r_${randomBytes(4).toString('hex')}_`;
  const rollups = cardFraudRollups(prefix);
  const objects = [...[...rollups.predictions, ...rollups.payments].flatMap((r) => [r.name, `${r.name}_mv`]), `${prefix}fraud_predictions`, `${prefix}payments`, `${prefix}late_added`, `${prefix}late_added_mv`, `${prefix}bad`, `${prefix}bad_mv`];
  let client: ClickHouseClient;
  let env: SinkEnvironment;
  const rows = async <T,>(query: string): Promise<T[]> => (await client.query({ query, format: 'JSONEachRow' })).json<T>();
  const count = async (query: string) => Number((await rows<{ n: string | number }>(query))[0]!.n);

  before(async () => {
    client = await target.connect();
    env = {
      topology: 'it-rollups', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client,
      state: () => Promise.reject(new Error('no state store in this test')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('no Kafka in this test')), schemasDir,
      fail: () => undefined,
    };
  });

  after(async () => {
    if (client) {
      // Views first: a materialized view outliving its source table would keep its name taken.
      for (const name of objects) await client.command({ query: `DROP TABLE IF EXISTS ${name}` });
      await client.close();
    }
    await target.cleanup?.();
  });

  test('fraud_rate_per_minute: predictions, flagged and fallback windows per minute; a replay counts once', async () => {
    const sink = withRollups(clickhouseTable<FraudPrediction>(`${prefix}fraud_predictions`, { schema: 'fraud_prediction.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', versionColumn: 'revision' }), rollups.predictions).create(env);
    await sink.open();
    const first = [prediction('card-1', M1, 0.9), prediction('card-2', M1, 0.2), prediction('card-3', M1, 0.5, 'batch'), prediction('card-1', M2, 0.1)];
    await write(sink, [first, [prediction('card-4', M2, 0.75)], first.slice(1, 3)]); // the last batch: a replay, in another insert
    await sink.close();
    const view = rollups.predictions[0]!.name;
    const minutes = await rows<Record<string, unknown>>(`SELECT toString(minute) AS minute, predictions, flagged, fallbacks, max_probability, fraud_rate FROM ${view} ORDER BY minute`);
    assert.deepEqual(minutes.map(numbers('predictions', 'flagged', 'fallbacks')), [
      { minute: '2023-11-14 22:14:00', predictions: 3, flagged: 2, fallbacks: 1, max_probability: 0.9, fraud_rate: 2 / 3 },
      { minute: '2023-11-14 22:15:00', predictions: 2, flagged: 1, fallbacks: 0, max_probability: 0.75, fraud_rate: 0.5 },
    ]);
    // The same counts as the deduplicated table, which stored the replayed rows twice until merged.
    const table = `${prefix}fraud_predictions`;
    assert.equal(await count(`SELECT count() AS n FROM ${table} FINAL`), 5);
    assert.equal(await count(`SELECT sum(predictions) AS n FROM ${view}`), 5);
    assert.equal(await count(`SELECT countIf(probability >= 0.5) AS n FROM ${table} FINAL`), 3);
    assert.equal(await count(`SELECT sum(flagged) AS n FROM ${view}`), 3);
  });

  test('merchant_stats_per_hour: payments and cards counted once, amounts summed per insert', async () => {
    const sink = withRollups(clickhouseTable<Payment>(`${prefix}payments`, { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance' }), rollups.payments).create(env);
    await sink.open();
    const batch = [
      payment(0, 'card-1', 'm-1', 10.5, M1),
      payment(1, 'card-2', 'm-1', 20.25, M1 + 1_000),
      payment(2, 'card-1', 'm-1', 5, M2),
      payment(3, 'card-1', 'm-2', 7.75, M2),
      payment(4, 'card-3', 'm-1', 100, H2 + 5_000),
    ];
    await write(sink, [batch, [batch[1]!]]); // payment 1 again: a replay of one record
    await sink.close();
    const view = rollups.payments[0]!.name;
    const stats = await rows<Record<string, unknown>>(`SELECT toString(hour) AS hour, merchantId, payments, cards, amount_total, amount_max FROM ${view} ORDER BY hour, merchantId`);
    assert.deepEqual(stats.map(numbers('payments', 'cards')), [
      { hour: '2023-11-14 22:00:00', merchantId: 'm-1', payments: 3, cards: 2, amount_total: 10.5 + 20.25 * 2 + 5, amount_max: 20.25 },
      { hour: '2023-11-14 22:00:00', merchantId: 'm-2', payments: 1, cards: 1, amount_total: 7.75, amount_max: 7.75 },
      { hour: '2023-11-14 23:00:00', merchantId: 'm-1', payments: 1, cards: 1, amount_total: 100, amount_max: 100 },
    ]);
    assert.equal(await count(`SELECT count() AS n FROM ${prefix}payments FINAL`), 5);
    assert.equal(await count(`SELECT sum(payments) AS n FROM ${view}`), 5);
  });

  test('a rollup added to a table with rows starts from those rows (POPULATE); an existing one is kept', async () => {
    const table = `${prefix}payments`; // filled by the test above
    // Merged first, so the rows POPULATE reads do not depend on when the server merges.
    await client.command({ query: `OPTIMIZE TABLE ${table} FINAL` });
    const definition = { name: `${prefix}late_added`, groupBy: { merchantId: 'merchantId' }, measures: { rows: countRows(), payments: countDistinct('paymentId') } };
    const sink = withRollups(clickhouseTable<Payment>(table, { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance' }), [definition]).create(env);
    await sink.open();
    await write(sink, [[payment(5, 'card-9', 'm-2', 1, H2)]]);
    await sink.close();
    const expected = [{ merchantId: 'm-1', rows: 4, payments: 4 }, { merchantId: 'm-2', rows: 2, payments: 2 }];
    assert.deepEqual((await rows<Record<string, unknown>>(`SELECT merchantId, rows, payments FROM ${prefix}late_added ORDER BY merchantId`)).map(numbers('rows', 'payments')), expected);
    // Opening again (a restart) neither fails nor fills it a second time.
    const again = withRollups(clickhouseTable<Payment>(table, { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance' }), [definition]).create(env);
    await again.open();
    await again.close();
    assert.deepEqual((await rows<Record<string, unknown>>(`SELECT merchantId, rows, payments FROM ${prefix}late_added ORDER BY merchantId`)).map(numbers('rows', 'payments')), expected);
  });

  test('refused: a changed definition of an existing rollup, and ALIAS columns', async () => {
    const table = () => clickhouseTable<Payment>(`${prefix}payments`, { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance' });
    const changed = withRollups(table(), [{ name: `${prefix}late_added`, groupBy: { merchantId: 'merchantId' }, measures: { rows: countRows() } }]).create(env);
    await assert.rejects(changed.open(), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /has columns \(merchantId, rows, payments\) but the topology defines \(merchantId, rows\)/);
      assert.match(error.message, new RegExp(`DROP TABLE ${prefix}late_added; DROP TABLE ${prefix}late_added_mv`));
      return true;
    });
    await changed.close();
    const alias = withRollups(table(), [{ name: `${prefix}bad`, groupBy: { minute: 'toStartOfMinute(ts_time)' }, measures: { rows: countRows() } }]).create(env);
    await assert.rejects(alias.open(), /uses the ALIAS column ts_time/);
    await alias.close();
    assert.equal(await count(`SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name LIKE '${prefix}bad%'`), 0);
  });
}

function prediction(cardId: string, windowEnd: number, probability: number, source: 'model' | 'batch' | 'fallback' = 'model'): FraudPrediction {
  const model = source === 'fallback' ? 'prior' : 'fraud-lr@test';
  return { cardId, windowEnd, probability, model, modelVersion: source === 'fallback' ? '' : 'test', featureVersion: 'v1', count1m: 1, sum1m: 1, max1m: 1, count5m: 1, sum5m: 1, max5m: 1, source, fallbackReason: source === 'model' ? '' : 'model-error', challengerModel: '', challengerProbability: null };
}

function payment(offset: number, cardId: string, merchantId: string, amount: number, ts: number): StreamRecord<Payment> {
  return { value: { paymentId: `p-${offset}`, cardId, merchantId, amount, currency: 'EUR', country: 'DE', ts }, key: cardId, eventTime: ts, topic: 'payments', partition: 0, offset: String(offset) };
}

/** Each batch is one INSERT: written, then flushed. Values that are not records become derived records. */
async function write<T>(sink: Sink<StreamRecord<T>>, batches: Array<Array<T | StreamRecord<T>>>): Promise<void> {
  for (const batch of batches) {
    const records = batch.map((item) => (isRecord<T>(item) ? item : { value: item, key: '', eventTime: 0, topic: '', partition: -1, offset: '' }));
    sink.write(records, []);
    await sink.flush();
  }
}

function isRecord<T>(item: T | StreamRecord<T>): item is StreamRecord<T> {
  return typeof item === 'object' && item !== null && 'value' in item && 'offset' in item;
}

/** 18.16 returns 64-bit integers as JSON strings, chDB as numbers: compare both as numbers. */
function numbers(...keys: string[]): (row: Record<string, unknown>) => Record<string, unknown> {
  return (row) => {
    const copy = { ...row };
    for (const key of keys) copy[key] = Number(copy[key]);
    return copy;
  };
}
