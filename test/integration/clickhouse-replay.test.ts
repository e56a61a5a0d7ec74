import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { DeadLetter, LateRecord, StreamRecord } from '../../src/core/batch.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { Sink, SinkEnvironment, SinkSpec } from '../../src/sinks/sink.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { cents, type CardFeatures } from '../../topologies/card-fraud-features.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures } from '../helpers/fraud-reference.ts';
import { SCHEMAS_DIR } from '../helpers/services.ts';
import { clickhouseTargets } from '../helpers/clickhouse-targets.ts';

/**
 * Effectively-once tables: card-fraud's own ClickHouse sinks receive a first run, then a replay
 * of an overlapping range in other insert boundaries (what a restart from the last checkpoint
 * writes again), on the 18.16 server (CLICKHOUSE_URL, required) and on embedded chDB. The replay
 * adds physical copies; `FINAL` counts, and after OPTIMIZE ... FINAL plain counts, are exact.
 */
const N = 6_000;
const T0 = Date.UTC(2023, 10, 14, 23, 40); // the events cross midnight: two day partitions
const PARTITIONS = 3;

const targets = clickhouseTargets();

for (const target of targets) describe(target.label, () => replaySuite(target.connect, target.cleanup));

function replaySuite(connect: () => Promise<ClickHouseClient>, cleanup?: () => Promise<void>): void {
  const prefix = `replay_${randomBytes(4).toString('hex')}_`;
  const table = { payments: `${prefix}payments`, features: `${prefix}card_features`, predictions: `${prefix}fraud_predictions`, late: `${prefix}late_records`, dead: `${prefix}dead_letters` };
  let client: ClickHouseClient;
  let env: SinkEnvironment;
  const count = async (query: string): Promise<number> => Number((await (await client.query({ query, format: 'JSONEachRow' })).json<{ n: string | number }>())[0]!.n);

  before(async () => {
    client = await connect();
    env = {
      topology: 'card-fraud', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client, schemasDir: SCHEMAS_DIR,
      state: () => Promise.reject(new Error('no state store in this test')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('no Kafka in this test')),
      fail: (error) => {
        throw error;
      },
    };
  });

  after(async () => {
    if (client) {
      for (const name of Object.values(table)) await client.command({ query: `DROP TABLE IF EXISTS ${name}` });
      await client.close();
    }
    await cleanup?.();
  });

  test('card-fraud tables: a replay in other batches leaves one row per event, window, prediction, late record and dead letter', async () => {
    const topology = createCardFraudTopology({ tablePrefix: prefix });
    const specs = { payments: topology.sinks.raw![0]!, features: topology.sinks.features![0]!, predictions: topology.sinks.predictions![0]!, late: topology.late!, dead: [topology.deadLetter!].flat()[0]! };

    const payments = Array.from({ length: N }, (_, i) => payment(i));
    const raw = payments.map((p, i) => sourceRecord(p, i));
    const features = referenceCardFeatures(payments);
    const featureRecords = features.map(derived);
    const predictionRecords = features.map((f) => derived(prediction(f)));
    // Every 40th payment is late for both window steps: one source record, two rows.
    const late = raw.filter((_, i) => i % 40 === 0).flatMap((r): LateRecord[] => ['card-1m', 'card-5m'].map((step) => ({ step, key: r.value.cardId, eventTime: r.value.ts, watermark: r.value.ts + 90_000, topic: r.topic, partition: r.partition, offset: r.offset, value: r.value })));
    const dead = raw.filter((_, i) => i % 97 === 0).map((r): DeadLetter => ({ step: 'decode', topic: r.topic, partition: r.partition, offset: r.offset, error: 'invalid union index 9', raw: Buffer.from(`bytes of ${r.offset}`), timestamp: r.value.ts }));

    // The first run: everything, in inserts of 700 rows (written 50 at a time, like source batches).
    const firstRun = await openAll(specs, env);
    for (const name of Object.values(table)) await client.command({ query: `SYSTEM STOP MERGES ${name}` });
    await writeInserts(firstRun.payments, raw, 700);
    await writeInserts(firstRun.features, featureRecords, 300);
    await writeInserts(firstRun.predictions, predictionRecords, 300);
    await writeInserts(firstRun.late, late, 100);
    await writeInserts(firstRun.dead, dead, 20);
    await closeAll(firstRun);

    // A restarted process replays from an earlier checkpoint: the last 60% again, in other inserts.
    const replay = await openAll(specs, env);
    await writeInserts(replay.payments, raw.slice(N * 0.4), 451);
    await writeInserts(replay.features, featureRecords.slice(features.length * 0.3), 173);
    await writeInserts(replay.predictions, predictionRecords.slice(features.length * 0.3), 173);
    await writeInserts(replay.late, late.slice(31), 29);
    await writeInserts(replay.dead, dead.slice(20), 7);
    await closeAll(replay);

    const expected = { payments: N, features: features.length, predictions: features.length, late: late.length, dead: dead.length };
    for (const [name, rows] of Object.entries(expected)) {
      const t = table[name as keyof typeof table];
      assert.ok((await count(`SELECT count() AS n FROM ${t}`)) > rows, `${t}: the replay stored copies before any merge`);
      assert.equal(await count(`SELECT count() AS n FROM ${t} FINAL`), rows, `${t}: one row per identity with FINAL`);
    }
    assert.equal(await count(`SELECT uniqExact(_topic, _partition, _offset) AS n FROM ${table.payments}`), N);
    assert.equal(await count(`SELECT toInt64(round(sum(amount) * 100)) AS n FROM ${table.payments} FINAL`), Math.round(payments.reduce((s, p) => s + p.amount, 0) * 100));
    assert.equal(await count(`SELECT uniqExact(cardId, windowEnd) AS n FROM ${table.predictions} FINAL`), features.length);

    for (const name of Object.values(table)) {
      await client.command({ query: `SYSTEM START MERGES ${name}` });
      await client.command({ query: `OPTIMIZE TABLE ${name} FINAL` });
    }
    for (const [name, rows] of Object.entries(expected)) {
      const t = table[name as keyof typeof table];
      assert.equal(await count(`SELECT count() AS n FROM ${t}`), rows, `${t}: exactly one row per identity after OPTIMIZE ... FINAL`);
    }
    // The surviving rows are the fault-free run's rows.
    const stored = (await (await client.query({ query: `SELECT * FROM ${table.features}`, format: 'JSONEachRow' })).json<Record<string, unknown>>()).map(toFeatures);
    assert.deepEqual(stored.sort(byCardAndEnd).map(inCents), features.map(inCents));
    const steps = await (await client.query({ query: `SELECT step, count() AS n FROM ${table.late} GROUP BY step ORDER BY step`, format: 'JSONEachRow' })).json<{ step: string; n: string | number }>();
    assert.deepEqual(steps.map((s) => [s.step, Number(s.n)]), [['card-1m', late.length / 2], ['card-5m', late.length / 2]]);
  });
}

type Specs = { payments: SinkSpec<StreamRecord<Payment>>; features: SinkSpec<StreamRecord<never>>; predictions: SinkSpec<StreamRecord<never>>; late: SinkSpec<LateRecord>; dead: SinkSpec<DeadLetter> };
type Sinks = { [K in keyof Specs]: Specs[K] extends SinkSpec<infer T> ? Sink<T> : never };

async function openAll(specs: Specs, env: SinkEnvironment): Promise<Sinks> {
  const sinks = { payments: specs.payments.create(env), features: specs.features.create(env), predictions: specs.predictions.create(env), late: specs.late.create(env), dead: specs.dead.create(env) };
  for (const sink of Object.values(sinks)) await sink.open();
  return sinks;
}

async function closeAll(sinks: Sinks): Promise<void> {
  for (const sink of Object.values(sinks)) await sink.close();
}

/** One INSERT per `insertRows` rows, written 50 at a time (sinks flush on maxRows or flush()). */
async function writeInserts<T>(sink: Sink<T>, rows: readonly T[], insertRows: number): Promise<void> {
  for (let i = 0; i < rows.length; i += insertRows) {
    const insert = rows.slice(i, i + insertRows);
    for (let j = 0; j < insert.length; j += 50) sink.write(insert.slice(j, j + 50), []);
    await sink.flush();
  }
}

function payment(i: number): Payment {
  return {
    paymentId: `p-${String(i).padStart(5, '0')}`,
    cardId: `card-${i % 89}`,
    merchantId: `m-${i % 13}`,
    amount: ((i * 7919) % 40_000) / 100 + 0.25,
    currency: 'EUR',
    country: ['DE', 'FR', 'GB', 'US'][i % 4]!,
    ts: T0 + i * 700,
  };
}

/** Payment i: fetched in batches of 250 per partition, consecutive offsets within each. */
function sourceRecord(value: Payment, i: number): StreamRecord<Payment> {
  const batch = Math.floor(i / 250);
  const partition = batch % PARTITIONS;
  const offset = 10_000 + Math.floor(batch / PARTITIONS) * 250 + (i % 250);
  return { value, key: '', eventTime: value.ts, topic: 'payments', partition, offset: String(offset) };
}

function derived<T>(value: T): StreamRecord<never> {
  return { value: value as never, key: '', eventTime: 0, topic: '', partition: -1, offset: '' };
}

function prediction(f: CardFeatures) {
  const { windowStart: _, ...rest } = f;
  return { ...rest, probability: cents(f.count5m / (f.count5m + 10)), model: 'fraud-lr@test', source: 'model' };
}
