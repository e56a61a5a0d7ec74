import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/runtime/engine.ts';
import { loadConfig, type EngineConfig } from '../../src/topology/config.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { connectClickHouse } from '../../src/clickhouse/connection.ts';
import { generatorSource } from '../../src/sources/generator/generator-source.ts';
import type { SourceSpec } from '../../src/sources/source.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { runReadOnlyQuery, type ReadOnlyTarget } from '../../src/analytics/read-only-query.ts';
import { readOnlyStatement } from '../../src/analytics/read-only-sql.ts';
import { DEFAULT_LIMITS } from '../../src/analytics/sql-config.ts';
import { parseJsonResult } from '../../src/analytics/result-output.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { createPaymentAuthorizationsTopology } from '../../topologies/payment-authorizations.ts';
import { lookupTable } from '../../src/tables/lookup-table.ts';
import { REPO_ROOT } from '../helpers/services.ts';

/**
 * Every ```sql block of the README's "For analysts" section runs, read-only and within the
 * endpoint's limits, on the 18.16 server (CLICKHOUSE_URL, required) and on chDB, over tables the
 * card-fraud topology filled from a seeded stream (their names given a prefix here).
 */
const TABLES = ['payments', 'card_features', 'fraud_predictions', 'late_records', 'dead_letters', 'fraud_rate_per_minute', 'merchant_stats_per_hour', 'payment_authorizations'];
/** Tables the seeded stream leaves empty: their queries must run, but may answer nothing. */
const MAY_BE_EMPTY = new Set(['late_records', 'dead_letters', 'payment_authorizations']);

async function readmeQueries(): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## For analysts\n');
  assert.ok(start >= 0, 'README has a "For analysts" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
}

const targets: Array<{ label: string; config: () => Promise<{ config: EngineConfig; target: ReadOnlyTarget; cleanup: () => Promise<void> }> }> = [
  {
    label: 'ClickHouse server over HTTP (CLICKHOUSE_URL)',
    config: async () => {
      const url = process.env.CLICKHOUSE_URL;
      if (!url) throw new Error('CLICKHOUSE_URL is not set: run the integration tests through scripts/test.sh, which starts ClickHouse');
      return { config: loadConfig({ CLICKHOUSE_URL: url, PORT: '0' }), target: { url }, cleanup: async () => {} };
    },
  },
  {
    label: 'embedded chDB',
    config: async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tributary-readme-'));
      return { config: loadConfig({ CLICKHOUSE_DATA_DIR: dataDir, PORT: '0' }), target: { dataDir }, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
    },
  },
];

for (const target of targets) {
  describe(target.label, () => {
    const prefix = `readme_${randomBytes(4).toString('hex')}_`;
    let engine: Engine | undefined;
    let setup: Awaited<ReturnType<(typeof target)['config']>>;

    before(async () => {
      setup = await target.config();
      const source = generatorSource<Payment>({
        name: 'seeded-payments',
        events: () => {
          const model = new CardPaymentModel({ seed: 5, cards: 200, merchants: 30 });
          return { next: (time) => model.next(time).payment };
        },
        eventTime: (p) => p.ts,
        eventsPerSecond: 20,
        pace: 'max',
        startTime: 1_700_000_000_000,
        limit: 2_000,
      });
      engine = await Engine.start(createCardFraudTopology({ tablePrefix: prefix }), { config: setup.config, logger: silentLogger, metrics: new Metrics(), push: false, source: source as SourceSpec<unknown> });
      await engine.done;
      // payment_authorizations comes from another topology: its sink creates the (empty) table.
      const authorizations = createPaymentAuthorizationsTopology({ tablePrefix: prefix, merchants: lookupTable({ name: 'merchants' }) });
      const sink = authorizations.sinks.authorizations![0]!.create(engine.environment.sinkEnvironment);
      await sink.open();
      await sink.close();
    });

    after(async () => {
      await engine?.stop();
      if (setup?.target.url !== undefined) {
        const client = await connectClickHouse({ url: setup.target.url, logger: silentLogger });
        for (const table of TABLES) {
          await client.command({ query: `DROP TABLE IF EXISTS ${prefix}${table}` });
          await client.command({ query: `DROP TABLE IF EXISTS ${prefix}${table}_mv` });
        }
        await client.close();
      }
      await setup?.cleanup();
    });

    test('every example query of "For analysts" runs and answers', async () => {
      const queries = await readmeQueries();
      assert.ok(queries.length >= 10, `found ${queries.length} queries`);
      const covered = new Set<string>();
      for (const query of queries) {
        const sql = readOnlyStatement(query.replace(new RegExp(`\\b(FROM|JOIN)\\s+(${TABLES.join('|')})\\b`, 'g'), (_m, keyword: string, table: string) => {
          covered.add(table);
          return `${keyword} ${prefix}${table}`;
        }));
        const result = parseJsonResult(await runReadOnlyQuery(setup.target, sql, 'JSON', DEFAULT_LIMITS));
        const main = /\bFROM\s+(\w+)/.exec(query)![1]!;
        if (!MAY_BE_EMPTY.has(main)) assert.ok(result.data.length > 0, `no rows from: ${query}`);
      }
      assert.deepEqual([...covered].sort(), [...TABLES].sort(), 'every table has an example');
    });
  });
}
