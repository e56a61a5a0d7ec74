import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { AckToken } from '../../src/core/ack.ts';
import { newSideOutputs, type StreamRecord } from '../../src/core/batch.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { SinkSet } from '../../src/runtime/sink-set.ts';
import { connectClickHouse } from '../../src/clickhouse/connection.ts';
import { clickhouseDeadLetters } from '../../src/sinks/clickhouse/dead-letter-table.ts';
import { clickhouseTable } from '../../src/sinks/clickhouse/table-sink.ts';
import type { SinkEnvironment } from '../../src/sinks/sink.ts';
import type { AnyTopology } from '../../src/topology/define-topology.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';

/**
 * One bad row never blocks the others: on the 18.16 server (CLICKHOUSE_URL), a table sink gets
 * 1,000 payments of which two carry an ISO date string where the schema (and the table's Int64
 * column) has epoch millis, which the server rejects, and one lacks the paymentId the topology's
 * toRow normalises, which the row encoder rejects. The 997 others land in the table; the three
 * reach the topology's dead-letter table with their offsets, are counted, and every source
 * batch's acks complete.
 */
const schemasDir = fileURLToPath(new URL('../../schemas', import.meta.url));
const T0 = 1_700_000_000_000;
const suffix = randomBytes(4).toString('hex');
const tables = { payments: `reject_payments_${suffix}`, dead: `reject_dead_${suffix}` };
let client: ClickHouseClient;
const rows = async <T,>(query: string): Promise<T[]> => (await client.query({ query, format: 'JSONEachRow' })).json<T>();

before(async () => {
  const url = process.env.CLICKHOUSE_URL;
  if (!url) throw new Error('CLICKHOUSE_URL is not set: eval "$(bash scripts/services.sh env)" first');
  client = await connectClickHouse({ url, logger: silentLogger });
});

after(async () => {
  for (const table of Object.values(tables)) await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
  await client.close();
});

test('1,000 rows, 3 rejected: 997 in the table, 3 dead letters with their offsets, acks complete', async () => {
  const metrics = new Metrics();
  const fatal: unknown[] = [];
  const env: SinkEnvironment = {
    topology: 'it-reject', logger: silentLogger, metrics, clickhouse: async () => client, schemasDir,
    state: () => Promise.reject(new Error('no state')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('no Kafka')),
    fail: (error) => void fatal.push(error),
  };
  const topology = {
    sinks: { raw: [clickhouseTable<Payment>(tables.payments, { schema: 'payment.avsc', orderBy: ['ts'], provenance: true, maxRows: 400, maxDelayMs: 20, toRow: ({ value }) => ({ ...value, paymentId: value.paymentId.trim() }) })] },
    deadLetter: clickhouseDeadLetters(tables.dead),
  } as unknown as AnyTopology;
  const sinks = new SinkSet(topology, env);
  await sinks.open();

  const bad = new Map<number, string>([
    [17, 'iso'],
    [523, 'missing'],
    [998, 'iso'],
  ]);
  let completed = 0;
  for (let batch = 0; batch < 10; batch++) {
    const records: StreamRecord<Payment>[] = [];
    for (let i = batch * 100; i < batch * 100 + 100; i++) {
      let value: Payment = payment(i);
      if (bad.get(i) === 'iso') value = { ...value, ts: new Date(value.ts).toISOString() as unknown as number };
      if (bad.get(i) === 'missing') value = { ...value, paymentId: undefined as unknown as string };
      records.push({ value, key: value.cardId, eventTime: T0 + i, topic: 'payments', partition: i % 2, offset: String(5_000 + i) });
    }
    const token = new AckToken(`payments-${batch}`, BigInt(batch), 100, () => completed++);
    sinks.route('raw', { records, watermark: -Infinity, acks: [token], side: newSideOutputs() });
    token.release();
    if (sinks.isFull()) await sinks.whenReady();
  }
  await sinks.flush();

  assert.deepEqual(fatal, []);
  assert.equal(completed, 10, 'every batch acknowledged once its rows were written or dead-lettered');
  const [count] = await rows<{ n: string; ids: string }>(`SELECT count() AS n, uniqExact(paymentId) AS ids FROM ${tables.payments}`);
  assert.equal(Number(count!.n), 997);
  assert.equal(Number(count!.ids), 997);
  const offsets = await rows<{ _offset: string }>(`SELECT _offset FROM ${tables.payments} WHERE _offset IN (5017, 5523, 5998)`);
  assert.deepEqual(offsets, []);

  const letters = await rows<{ step: string; topic: string; partition: number; offset: string; error: string; raw_base64: string; key: string }>(
    `SELECT step, topic, partition, offset, error, raw_base64, key FROM ${tables.dead} ORDER BY offset`,
  );
  assert.deepEqual(letters.map((l) => [l.step, l.topic, Number(l.partition), l.offset, l.key]), [
    [`sink:clickhouse:${tables.payments}`, 'payments', 1, '5017', 'card-17'],
    [`sink:clickhouse:${tables.payments}`, 'payments', 1, '5523', `card-${523 % 97}`],
    [`sink:clickhouse:${tables.payments}`, 'payments', 0, '5998', `card-${998 % 97}`],
  ]);
  assert.match(letters[0]!.error, /Cannot parse|Code: (6|26|27|72)\b/i);
  assert.match(letters[1]!.error, /turning a record into a row failed: .*trim/);
  assert.match(letters[2]!.error, /Cannot parse|Code: (6|26|27|72)\b/i);
  // raw is the record's value as JSON (the Kafka bytes are gone by the time a sink writes).
  assert.deepEqual(JSON.parse(Buffer.from(letters[0]!.raw_base64, 'base64').toString('utf8')), { ...payment(17), ts: new Date(payment(17).ts).toISOString() });
  const { paymentId: _, ...missing } = payment(523);
  assert.deepEqual(JSON.parse(Buffer.from(letters[1]!.raw_base64, 'base64').toString('utf8')), missing);

  const { values } = await metrics.deadLetters.get();
  assert.deepEqual(values.map((v) => [v.labels.step, v.value]), [[`sink:clickhouse:${tables.payments}`, 3]]);
  await sinks.close();
});

function payment(i: number): Payment {
  return {
    paymentId: ` p-${String(i).padStart(5, '0')} `,
    cardId: `card-${i % 97}`,
    merchantId: `m-${i % 13}`,
    amount: ((i % 400) + 1) * 0.25,
    currency: ['EUR', 'USD', 'GBP'][i % 3]!,
    country: ['DE', 'FR', 'GB', 'US'][i % 4]!,
    ts: T0 + i * 1_237,
  };
}
