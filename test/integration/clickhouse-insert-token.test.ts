import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { readInsert, type ExecParams } from '../helpers/fake-clickhouse.ts';
import type { StreamRecord } from '../../src/core/batch.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { detectDialect } from '../../src/clickhouse/connection.ts';
import { clickhouseTable } from '../../src/sinks/clickhouse/table-sink.ts';
import type { SinkEnvironment } from '../../src/sinks/sink.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { SCHEMAS_DIR } from '../helpers/services.ts';
import { clickhouseTargets } from '../helpers/clickhouse-targets.ts';

/**
 * The retry path: an insert the server wrote but whose answer was lost (a timeout) is sent again
 * by the sink. Where the server has insert_deduplication_token (chDB, not 18.16) the repeat is
 * dropped on arrival; on 18.16 it is stored and collapses with FINAL or a merge.
 */
const N = 3_000;
const T0 = Date.UTC(2023, 10, 14, 23, 50);

const targets = clickhouseTargets();

for (const target of targets) describe(target.label, () => tokenSuite(target.connect, target.cleanup));

interface Attempt { table: string; token: unknown; rows: number }

function tokenSuite(connect: () => Promise<ClickHouseClient>, cleanup?: () => Promise<void>): void {
  const suffix = randomBytes(4).toString('hex');
  const tables = { raw: `token_raw_${suffix}`, plain: `token_plain_${suffix}` };
  let client: ClickHouseClient;
  let tokens = false;
  /** Every insert attempt, with the token it carried. */
  const attempts: Attempt[] = [];
  /** Inserts still to fail after the server wrote them, as a lost answer would. */
  let loseAnswers = 0;
  const count = async (query: string): Promise<number> => Number((await (await client.query({ query, format: 'JSONEachRow' })).json<{ n: string | number }>())[0]!.n);
  const env = (): SinkEnvironment => ({
    topology: 'it-token', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => losingAnswers(client, attempts, () => loseAnswers-- > 0), schemasDir: SCHEMAS_DIR,
    state: () => Promise.reject(new Error('no state store in this test')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('no Kafka in this test')),
    fail: (error) => {
      throw error;
    },
  });
  const rawSink = () => clickhouseTable<Payment>(tables.raw, { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance', maxRows: 100_000 }).create(env());

  before(async () => {
    client = await connect();
    tokens = (await detectDialect(client)).supportsInsertDeduplicationToken;
  });

  after(async () => {
    if (client) {
      for (const table of Object.values(tables)) await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
      await client.close();
    }
    await cleanup?.();
  });

  test('a retried insert whose answer was lost: dropped by its token where the server has tokens, collapsed by FINAL everywhere', async () => {
    const records = Array.from({ length: N }, (_, i) => record(i));
    const sink = rawSink();
    await sink.open();
    await client.command({ query: `SYSTEM STOP MERGES ${tables.raw}` });
    loseAnswers = 1;
    sink.write(records, []);
    await sink.flush(); // the first attempt's write succeeded, its answer "timed out"; the sink retried
    await sink.close();
    const sent = attempts.filter((a) => a.table === `\`${tables.raw}\``);
    assert.equal(sent.length, 2);
    assert.equal(sent[0]!.rows, N);
    if (tokens) {
      assert.match(String(sent[0]!.token), /^[A-Za-z0-9_-]{43}$/);
      assert.equal(sent[1]!.token, sent[0]!.token, 'the retry carries the same token');
      assert.equal(await count(`SELECT count() AS n FROM ${tables.raw}`), N, 'the server dropped the repeated insert');
    } else {
      assert.deepEqual(sent.map((a) => a.token), [undefined, undefined]);
      assert.equal(await count(`SELECT count() AS n FROM ${tables.raw}`), 2 * N, '18.16 stores the repeat until a merge');
    }
    assert.equal(await count(`SELECT count() AS n FROM ${tables.raw} FINAL`), N);

    // Another process replaying exactly these rows, in another order: the same token.
    const again = rawSink();
    await again.open();
    again.write([...records].reverse(), []);
    await again.close();
    if (tokens) {
      assert.equal(attempts.at(-1)!.token, sent[0]!.token);
      assert.equal(await count(`SELECT count() AS n FROM ${tables.raw}`), N);
    }
    // One row fewer is another insert: stored, and collapsed by the key.
    const fewer = rawSink();
    await fewer.open();
    fewer.write(records.slice(1), []);
    await fewer.close();
    if (tokens) {
      assert.notEqual(attempts.at(-1)!.token, sent[0]!.token);
      assert.equal(await count(`SELECT count() AS n FROM ${tables.raw}`), 2 * N - 1);
    }
    assert.equal(await count(`SELECT count() AS n FROM ${tables.raw} FINAL`), N);
    await client.command({ query: `SYSTEM START MERGES ${tables.raw}` });
    await client.command({ query: `OPTIMIZE TABLE ${tables.raw} FINAL` });
    assert.equal(await count(`SELECT count() AS n FROM ${tables.raw}`), N);
  });

  test('inserts into a table without dedupe name an empty token, so none carries over from another insert', async () => {
    const sink = clickhouseTable<Payment>(tables.plain, { schema: 'payment.avsc', orderBy: ['ts'] }).create(env());
    await sink.open();
    for (let i = 0; i < 2; i++) {
      sink.write([record(0)], []);
      await sink.flush();
    }
    await sink.close();
    assert.deepEqual(attempts.filter((a) => a.table === `\`${tables.plain}\``).map((a) => a.token), tokens ? ['', ''] : [undefined, undefined]);
    assert.equal(await count(`SELECT count() AS n FROM ${tables.plain}`), 2, 'a plain table keeps every insert');
  });
}

/** The client, logging each insert's token; an insert for which `lose()` holds is written, then fails as a timeout would. */
function losingAnswers(client: ClickHouseClient, attempts: Attempt[], lose: () => boolean): ClickHouseClient {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'exec') {
        return async (params: ExecParams) => {
          const insert = await readInsert(params);
          if (insert === undefined) return target.exec(params as Parameters<ClickHouseClient['exec']>[0]);
          const settings = (params.clickhouse_settings ?? {}) as ClickHouseSettings;
          attempts.push({ table: insert.table, token: settings.insert_deduplication_token, rows: insert.values.length });
          const result = await target.exec({ ...params, values: Readable.from([insert.body]) } as Parameters<ClickHouseClient['exec']>[0]);
          result.stream.resume();
          await finished(result.stream);
          if (lose()) throw new Error('Timeout error.');
          return result;
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Payment i from partition i % 2, so the insert spans two Kafka partitions and two days. */
function record(i: number): StreamRecord<Payment> {
  const value: Payment = { paymentId: `p-${i}`, cardId: `card-${i % 31}`, merchantId: 'm-1', amount: (i % 500) / 4, currency: 'EUR', country: 'DE', ts: T0 + i * 1_000 };
  return { value, key: '', eventTime: value.ts, topic: 'payments', partition: i % 2, offset: String(500 + Math.floor(i / 2)) };
}
