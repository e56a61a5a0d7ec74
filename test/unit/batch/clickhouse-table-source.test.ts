import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import type { BatchPredictionRow } from '../../../src/tables/batch-predictions-table.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { batchPredictionTable } from '../../../src/tables/clickhouse-table-source.ts';
import type { TableEnvironment } from '../../../src/tables/table-source.ts';
import { fakeClickHouse } from '../../helpers/fake-clickhouse.ts';

const env = (clickhouse?: () => Promise<ClickHouseClient>, logger = silentLogger): TableEnvironment => ({ topology: 't', logger, metrics: new Metrics(), schemasDir: 'schemas', groupId: 'g', clickhouse });

/** 18.16 holding `rows` in the batch predictions table, answering the source's queries from them. */
function fakeTable(rows: BatchPredictionRow[]) {
  const fake = fakeClickHouse(false);
  const base = fake.client.query.bind(fake.client);
  const state = { failing: false, since: [] as number[] };
  const client = {
    ...fake.client,
    query: async (params: { query: string }) => {
      const q = params.query;
      if (state.failing && q.includes('bp')) throw new Error('Code: 210, e.displayText() = DB::NetException: Connection refused');
      if (q.includes('max(scoredAt) AS maxScoredAt')) return { json: async () => [{ maxScoredAt: String(Math.max(0, ...rows.map((r) => r.scoredAt))), rows: String(rows.length) }] };
      const since = Number(/scoredAt >= (\d+)/.exec(q)?.[1] ?? 0);
      const matching = rows.filter((r) => r.scoredAt >= since);
      if (q.includes('uniq(entity)')) return { json: async () => [{ n: String(new Set(matching.map((r) => r.entity)).size) }] };
      if (q.includes('argMax(tuple(probability')) {
        state.since.push(since);
        const latest = new Map<string, BatchPredictionRow>();
        for (const r of matching) if (!latest.has(r.entity) || latest.get(r.entity)!.scoredAt < r.scoredAt) latest.set(r.entity, r);
        // 18.16: Int64 as strings, the probability with one ulp of parse error.
        const answer = [...latest.values()].map((r) => ({ entity: r.entity, latest: [r.probability * (1 + Number.EPSILON), r.model, r.modelVersion, r.featureVersion, String(r.asOf), String(r.scoredAt), r.runId] }));
        return { json: async () => answer };
      }
      return base(params);
    },
  } as unknown as ClickHouseClient;
  return { client, state, ddl: fake.seen.ddl };
}

const row = (entity: string, probability: number, scoredAt: number): BatchPredictionRow => ({ entity, probability: Math.fround(probability), model: 'm@1', modelVersion: '1', featureVersion: 'v1', asOf: scoredAt - 100, scoredAt, runId: `run-${scoredAt}` });
const value = ({ entity: _e, runId: _r, ...prediction }: BatchPredictionRow) => prediction;

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(condition(), 'condition not reached within 4 s');
}

describe('batchPredictionTable', () => {
  test('needs the engine\'s ClickHouse client, a table and a sane refresh', async () => {
    const table = batchPredictionTable({ name: 'batch', table: 'bp' });
    await assert.rejects(table.source!.start(table, env()), (e: unknown) => e instanceof ConfigError && /tables\.batch.*no ClickHouse client/.test(e.message));
    assert.throws(() => batchPredictionTable({ name: 'batch', table: 'bp; DROP TABLE x' }), ConfigError);
    assert.throws(() => batchPredictionTable({ name: 'batch', table: 'bp', refresh: '10ms' }), ConfigError);
  });

  test('loads at start, applies only newer runs, replaces a shrunk table at once, keeps its values while ClickHouse fails', async () => {
    const rows = [row('a', 0.1, 1000), row('b', 0.2, 1000), row('a', 0.15, 500)];
    const fake = fakeTable(rows);
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const table = batchPredictionTable({ name: 'batch', table: 'bp', refresh: '100ms' });
    const running = await table.source!.start(table, env(async () => fake.client, logger));
    try {
      assert.match(fake.ddl[0]!, /CREATE TABLE IF NOT EXISTS `bp`/);
      assert.deepEqual(fake.state.since, [0]);
      assert.equal(table.size, 2);
      assert.deepEqual(table.get('a'), value(rows[0]!)); // the exact float32 score despite the parse error
      assert.deepEqual(table.get('b'), value(rows[1]!));

      rows.push(row('a', 0.3, 2000), row('c', 0.4, 2000));
      await until(() => table.get('c') !== undefined);
      assert.deepEqual(fake.state.since, [0, 1000]);
      assert.deepEqual([table.get('a'), table.get('b'), table.get('c')], [value(rows[3]!), value(rows[1]!), value(rows[4]!)]);

      // Nothing new: no reload.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(fake.state.since, [0, 1000]);

      fake.state.failing = true;
      rows.push(row('d', 0.5, 3000));
      await until(() => warnings.length > 0);
      assert.match(warnings[0]!, /refreshing table batch from bp failed; keeping the predictions loaded before/);
      assert.equal(table.size, 3);
      fake.state.failing = false;
      await until(() => table.get('d') !== undefined);

      // Old runs dropped (the table shrank): read whole, b (only in the dropped run) goes.
      rows.splice(0, 3);
      await until(() => table.get('b') === undefined);
      assert.deepEqual(new Map(['a', 'c', 'd'].map((k) => [k, table.get(k)])), new Map(rows.map((r) => [r.entity, value(r)])));
      assert.equal(table.size, 3);
    } finally {
      await running.close();
    }
  });
});
