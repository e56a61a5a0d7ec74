import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { StreamRecord } from '../../../src/core/batch.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { clickhouseTable } from '../../../src/sinks/clickhouse/table-sink.ts';
import { fakeClickHouse } from '../../helpers/fake-clickhouse.ts';

/**
 * A large insert is turned into JSON a slice of rows per event-loop turn, so I/O that arrives
 * meanwhile (a window close's batch) waits for one slice, not the whole insert. Observed by order
 * alone: a setImmediate ticker logs its turns between the rows the table's toRow encodes.
 */
async function encodeWithTicker(chunks: number, draining = false): Promise<{ log: Array<'tick' | number>; runs: number[]; encoded: number[]; inserts: Array<{ values: unknown[] }> }> {
  const log: Array<'tick' | number> = [];
  const { client, seen } = fakeClickHouse(false);
  const spec = clickhouseTable<{ card: number }>('features', {
    schema: 'card_features.avsc',
    orderBy: ['cardId'],
    maxRows: 2_500,
    toRow: (r) => {
      log.push(r.value.card);
      return { cardId: `c-${r.value.card}`, windowStart: r.value.card, windowEnd: 2, count1m: 3, sum1m: 4, max1m: 5, count5m: 6, sum5m: 7, max5m: 8 };
    },
  });
  const sink = spec.create({
    topology: 'unit', logger: silentLogger, metrics: new Metrics(), clickhouse: async () => client as unknown as ClickHouseClient,
    state: () => Promise.reject(new Error('unused')), push: () => undefined, kafkaProducer: () => Promise.reject(new Error('unused')),
    schemasDir: fileURLToPath(new URL('../../../schemas', import.meta.url)),
    draining: () => draining,
    fail: (error) => {
      throw error;
    },
  });
  await sink.open();
  const rows: StreamRecord<{ card: number }>[] = Array.from({ length: 2_500 * chunks }, (_, card) => ({ value: { card }, key: '', eventTime: 0, topic: '', partition: -1, offset: '' }));
  let ticking = true;
  const tick = (): void => {
    log.push('tick');
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  // Each 2,500 rows reach maxRows: the first flush starts at once, the others wait behind it.
  for (let i = 0; i < chunks; i++) sink.write(rows.slice(i * 2_500, (i + 1) * 2_500), []);
  await sink.close();
  ticking = false;
  const runs: number[] = [];
  let run = 0;
  for (const entry of log) {
    if (entry === 'tick') {
      if (run > 0) runs.push(run);
      run = 0;
    } else run++;
  }
  if (run > 0) runs.push(run);
  return { log, runs, encoded: log.filter((entry): entry is number => entry !== 'tick'), inserts: seen.inserts };
}

test('an insert of 2,500 rows is encoded over 3 event-loop turns, at most 1,000 rows a turn, and lands whole and in order', async () => {
  const { runs, encoded, inserts } = await encodeWithTicker(1);
  assert.deepEqual(encoded, Array.from({ length: 2_500 }, (_, i) => i), 'each row encoded once, in order');
  assert.deepEqual(runs, [1_000, 1_000, 500], 'rows encoded between two turns of the ticker');
  assert.equal(inserts.length, 1);
  assert.deepEqual(inserts[0]!.values.map((v) => (v as { cardId: string }).cardId), Array.from({ length: 2_500 }, (_, i) => `c-${i}`));
});

test('a backlogged sink (a full chunk waiting behind the insert) encodes the rest of the insert in one turn', async () => {
  const { log, encoded, inserts } = await encodeWithTicker(2);
  assert.deepEqual(encoded, Array.from({ length: 5_000 }, (_, i) => i));
  assert.deepEqual(inserts.map((insert) => insert.values.length), [2_500, 2_500]);
  const turnsBetween = (from: number, to: number) => log.slice(log.indexOf(from), log.indexOf(to)).filter((entry) => entry === 'tick').length;
  // The first slice of the first insert ran inside the first write, before the second chunk
  // came; from then on 2,500 rows waited behind it. The second insert had nothing behind it.
  assert.equal(turnsBetween(1_000, 2_499), 0, 'the first insert, once backlogged, took no turns');
  assert.equal(turnsBetween(2_500, 4_999), 2, 'the second insert took a turn after each 1,000 rows');
});

test('while the engine drains a backlog an insert is encoded in one turn', async () => {
  const { runs, encoded } = await encodeWithTicker(1, true);
  assert.deepEqual(encoded, Array.from({ length: 2_500 }, (_, i) => i));
  assert.deepEqual(runs, [2_500]);
});
