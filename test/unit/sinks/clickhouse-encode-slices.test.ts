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
test('an insert of 2,500 rows is encoded over at least 3 event-loop turns, at most 1,000 rows a turn, and lands whole and in order', async () => {
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
    fail: (error) => {
      throw error;
    },
  });
  await sink.open();
  const rows: StreamRecord<{ card: number }>[] = Array.from({ length: 2_500 }, (_, card) => ({ value: { card }, key: '', eventTime: 0, topic: '', partition: -1, offset: '' }));
  let ticking = true;
  const tick = (): void => {
    log.push('tick');
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  sink.write(rows, []); // 2,500 rows: maxRows reached, the flush starts at once
  await sink.close();
  ticking = false;

  const encoded = log.filter((entry): entry is number => entry !== 'tick');
  assert.deepEqual(encoded, rows.map((r) => r.value.card), 'each row encoded once, in order');
  const runs: number[] = [];
  let run = 0;
  for (const entry of log) {
    if (entry === 'tick') {
      if (run > 0) runs.push(run);
      run = 0;
    } else run++;
  }
  if (run > 0) runs.push(run);
  assert.deepEqual(runs, [1_000, 1_000, 500], 'rows encoded between two turns of the ticker');

  assert.equal(seen.inserts.length, 1);
  const insert = seen.inserts[0]!;
  assert.equal(insert.values.length, 2_500);
  assert.deepEqual(insert.values.map((v) => (v as { cardId: string }).cardId), rows.map((r) => `c-${r.value.card}`));
});
