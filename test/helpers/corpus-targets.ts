import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@clickhouse/client';
import { startPrivateClickHouse, type PrivateClickHouse } from './private-clickhouse.ts';

/** The two targets of the hostile-corpus test: their data, canaries and endpoint environment. */
export interface Target {
  label: string;
  database: string;
  /** Prepares data and canaries; returns the endpoint process's environment and where its files go. */
  prepare(common: NodeJS.ProcessEnv): Promise<{ env: NodeJS.ProcessEnv; secretFile: string; watched: string[]; cleanup(): Promise<void> }>;
}

export const TABLE = 'payments';
export const LETTERS = 'dead_letters';
export const OTHER_DB = 'otherdb_canary';

/** Both targets, their canary rows, files and environment variables carrying `canary`. */
export function corpusTargets(canary: string): Target[] {
  return [
    {
      label: 'embedded chDB',
      database: 'default',
      async prepare(common) {
        const dataDir = mkdtempSync(path.join(tmpdir(), 'tributary-corpus-chdb-'));
        const secretDir = mkdtempSync(path.join(tmpdir(), 'tributary-corpus-secret-'));
        const secretFile = path.join(secretDir, 'secret.txt');
        writeFileSync(secretFile, `file-${canary}\n`);
        // Relative paths of file() resolve in chDB's user_files.
        mkdirSync(path.join(dataDir, 'user_files'), { recursive: true });
        writeFileSync(path.join(dataDir, 'user_files', 'secret.txt'), `file-${canary}\n`);
        return {
          env: { ...common, CORPUS_MODE: 'chdb', CORPUS_DATA_DIR: dataDir },
          secretFile,
          watched: [path.join(dataDir, 'user_files')],
          cleanup: async () => {
            rmSync(dataDir, { recursive: true, force: true });
            rmSync(secretDir, { recursive: true, force: true });
          },
        };
      },
    },
    {
      label: 'ClickHouse 18.16 server as the analyst user',
      database: 'tributary_analytics',
      async prepare(common) {
        const clickhouse: PrivateClickHouse = await startPrivateClickHouse({ maxExecutionSeconds: 2, env: { TRIBUTARY_CANARY_ENV: `env-${canary}` } });
        const writer = createClient({ url: clickhouse.url });
        const db = clickhouse.database;
        for (const statement of [
          `CREATE TABLE ${db}.${TABLE} (id UInt32, name String, amount Float64) ENGINE = MergeTree ORDER BY id`,
          `INSERT INTO ${db}.${TABLE} VALUES (1, 'alpha', 10.5), (2, 'beta', 20.25), (3, 'gamma', 0.5)`,
          `CREATE TABLE ${db}.${LETTERS} (payload String) ENGINE = MergeTree ORDER BY payload`,
          `INSERT INTO ${db}.${LETTERS} VALUES ('letter-${canary}')`,
          `CREATE DATABASE ${OTHER_DB}`,
          `CREATE TABLE ${OTHER_DB}.secrets (id UInt32, secret String) ENGINE = MergeTree ORDER BY id`,
          `INSERT INTO ${OTHER_DB}.secrets VALUES (1, 'otherdb-${canary}')`,
          `CREATE TABLE default.secrets (id UInt32, secret String) ENGINE = MergeTree ORDER BY id`,
          `INSERT INTO default.secrets VALUES (1, 'otherdb-${canary}')`,
        ]) {
          await writer.command({ query: statement });
        }
        await writer.close();
        const secretFile = path.join(clickhouse.userFilesDir, 'secret.txt');
        writeFileSync(secretFile, `file-${canary}\n`);
        chmodSync(secretFile, 0o644); // the server's own user may read it: only the guard stands between
        return {
          env: { ...common, CORPUS_MODE: 'server', CORPUS_CLICKHOUSE_URL: `${clickhouse.url}/${db}`, CORPUS_ANALYST_USER: clickhouse.analyst.user, CORPUS_ANALYST_PASSWORD: clickhouse.analyst.password },
          secretFile,
          watched: [clickhouse.userFilesDir],
          cleanup: () => clickhouse.stop(),
        };
      },
    },
  ];
}
