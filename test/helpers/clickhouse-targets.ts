import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { connectClickHouse } from '../../src/clickhouse/connection.ts';
import { silentLogger } from '../../src/observability/logger.ts';

/** A ClickHouse a suite runs against; `cleanup` removes what `connect` created. */
export interface ClickHouseTarget {
  label: string;
  connect: () => Promise<ClickHouseClient>;
  cleanup?: () => Promise<void>;
}

/**
 * The two ClickHouse flavours every sink must work on: Debian's 18.16 server over HTTP
 * (CLICKHOUSE_URL, required) and embedded chDB in a fresh temporary directory.
 *
 * @example for (const target of clickhouseTargets()) describe(target.label, () => suite(target));
 */
export function clickhouseTargets(): ClickHouseTarget[] {
  let chdbDir = '';
  return [
    {
      label: 'ClickHouse server over HTTP (CLICKHOUSE_URL)',
      connect: () => {
        const url = process.env.CLICKHOUSE_URL;
        if (!url) throw new Error('CLICKHOUSE_URL is not set: run the integration tests through scripts/test.sh, which starts ClickHouse');
        return connectClickHouse({ url, logger: silentLogger });
      },
    },
    {
      label: 'embedded chDB',
      connect: async () => connectClickHouse({ dataDir: (chdbDir = await mkdtemp(join(tmpdir(), 'tributary-chdb-'))), logger: silentLogger }),
      cleanup: () => rm(chdbDir, { recursive: true, force: true }),
    },
  ];
}
