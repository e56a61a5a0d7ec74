import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { createClient } from '@clickhouse/client';
import { Engine } from '../../src/runtime/engine.ts';
import { loadConfig, type EngineConfig } from '../../src/topology/config.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { generatorSource } from '../../src/sources/generator/generator-source.ts';
import type { SourceSpec } from '../../src/sources/source.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { runAnalystQuery, type AnalystTarget } from '../../src/analytics/analyst-query.ts';
import { DEFAULT_LIMITS } from '../../src/analytics/sql-config.ts';
import { closeSqlParser } from '../../src/analytics/parser-session.ts';
import { parseJsonResult, type JsonResult } from '../../src/analytics/result-output.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { createPaymentAuthorizationsTopology } from '../../topologies/payment-authorizations.ts';
import { lookupTable } from '../../src/tables/lookup-table.ts';
import { REPO_ROOT } from '../helpers/services.ts';
import { startPrivateClickHouse } from '../helpers/private-clickhouse.ts';

/**
 * Every ```sql block of the README's "For analysts" section runs through the analyst path
 * (ClickHouse's parser, the allowlist, the limits; on the server as the read-only analyst
 * user) on a ClickHouse 18.16 server and on chDB, over tables the card-fraud topology filled
 * from a seeded stream (their names given a prefix here), and answers exactly what the same
 * text answers when run directly, unguarded, by the engine's own user: the guard changes no
 * result. dead_letters is read as admin (analysts do not read it).
 */
const TABLES = ['payments', 'card_features', 'fraud_predictions', 'late_records', 'dead_letters', 'fraud_rate_per_minute', 'merchant_stats_per_hour', 'payment_authorizations'];
const ADMIN_ONLY = new Set(['dead_letters']);
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

interface Setup {
  config: EngineConfig;
  target: AnalystTarget;
  /** The text run as the engine's own user, unguarded, as the endpoint did before the guard. */
  direct: (sql: string) => Promise<JsonResult>;
  cleanup: () => Promise<void>;
}

const targets: Array<{ label: string; setup: () => Promise<Setup> }> = [
  {
    label: 'ClickHouse 18.16 server (the analyst user of a private server)',
    setup: async () => {
      const server = await startPrivateClickHouse();
      const url = `${server.url}/${server.database}`;
      const writer = createClient({ url });
      return {
        config: loadConfig({ CLICKHOUSE_URL: url, PORT: '0' }),
        target: { url, analyst: server.analyst },
        direct: async (sql) => parseJsonResult(await (await writer.query({ query: sql.replace(/;\s*$/, ''), format: 'JSON' })).text()),
        cleanup: async () => {
          // The parser's chDB instance is closed: the next target opens a chDB directory.
          closeSqlParser();
          await writer.close();
          await server.stop();
        },
      };
    },
  },
  {
    label: 'embedded chDB',
    setup: async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tributary-readme-'));
      return {
        config: loadConfig({ CLICKHOUSE_DATA_DIR: dataDir, PORT: '0' }),
        target: { dataDir },
        direct: async (sql) => {
          // A session of its own on the engine's directory, as the endpoint had before.
          const session = new Session(dataDir);
          try {
            return parseJsonResult((await session.queryAsync(sql.replace(/;\s*$/, ''), { format: 'JSON' })).text());
          } finally {
            session.close();
          }
        },
        cleanup: () => rm(dataDir, { recursive: true, force: true }),
      };
    },
  },
];

for (const target of targets) {
  describe(target.label, () => {
    const prefix = `readme_${randomBytes(4).toString('hex')}_`;
    let engine: Engine | undefined;
    let setup: Setup | undefined;

    before(async () => {
      setup = await target.setup();
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
      await setup?.cleanup();
    });

    test('every example query of "For analysts" answers through the guard exactly what it answers unguarded', async () => {
      const queries = await readmeQueries();
      assert.ok(queries.length >= 10, `found ${queries.length} queries`);
      const covered = new Set<string>();
      const analystTables = TABLES.filter((table) => !ADMIN_ONLY.has(table)).map((table) => `${prefix}${table}`);
      for (const query of queries) {
        const sql = query.replace(new RegExp(`\\b(FROM|JOIN)\\s+(${TABLES.join('|')})\\b`, 'g'), (_m, keyword: string, table: string) => {
          covered.add(table);
          return `${keyword} ${prefix}${table}`;
        });
        const main = /\bFROM\s+(\w+)/.exec(query)![1]!;
        const role = ADMIN_ONLY.has(main) ? 'admin' : 'analyst';
        const guarded = parseJsonResult((await runAnalystQuery(setup!.target, sql, { role, format: 'JSON', limits: DEFAULT_LIMITS, analystTables })).text);
        const unguarded = await setup!.direct(sql);
        assert.deepEqual({ meta: guarded.meta, data: guarded.data }, { meta: unguarded.meta, data: unguarded.data }, query);
        if (!MAY_BE_EMPTY.has(main)) assert.ok(guarded.data.length > 0, `no rows from: ${query}`);
        if (role === 'admin') {
          // Analysts are refused what admins read.
          await assert.rejects(runAnalystQuery(setup!.target, sql, { role: 'analyst', format: 'JSON', limits: DEFAULT_LIMITS, analystTables }), /analysts may not read the table/);
        }
      }
      assert.deepEqual([...covered].sort(), [...TABLES].sort(), 'every table has an example');
    });
  });
}
