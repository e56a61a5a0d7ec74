import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { connectClickHouse } from '../../src/clickhouse/connection.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { AnalystTarget } from '../../src/analytics/analyst-query.ts';
import { closeSqlParser } from '../../src/analytics/parser-session.ts';
import { startPrivateClickHouse, type PrivateClickHouseOptions } from './private-clickhouse.ts';

/** A ClickHouse the analyst endpoint answers from, with the test's own (writing) client. */
export interface AnalystSuiteTarget {
  label: string;
  open: () => Promise<{ client: ClickHouseClient; target: AnalystTarget; cleanup: () => Promise<void> }>;
}

/**
 * The two places analyst SQL runs: a private ClickHouse 18.16 server (its read-only analyst user,
 * its profile limits from `server`) and embedded chDB in a fresh directory.
 */
export function analystTargets(server: PrivateClickHouseOptions = {}): AnalystSuiteTarget[] {
  return [
    {
      label: 'ClickHouse 18.16 server as the analyst user',
      open: async () => {
        const clickhouse = await startPrivateClickHouse(server);
        const url = `${clickhouse.url}/${clickhouse.database}`;
        // The parser's chDB instance is closed after: the next suite opens a chDB directory.
        const cleanup = async () => { closeSqlParser(); await clickhouse.stop(); };
        return { client: await connectClickHouse({ url, logger: silentLogger }), target: { url, analyst: clickhouse.analyst }, cleanup };
      },
    },
    {
      label: 'embedded chDB',
      open: async () => {
        const dataDir = await mkdtemp(join(tmpdir(), 'tributary-analyst-'));
        return { client: await connectClickHouse({ dataDir, logger: silentLogger }), target: { dataDir }, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
      },
    },
  ];
}
