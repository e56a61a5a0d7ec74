import type { ResultFormat } from './result-format.ts';
import type { SqlParser } from './sql-parser.ts';

/** Where one analyst query is parsed, checked and run: embedded chDB or a ClickHouse server. */
export interface AnalystBackend {
  /** The database the query runs in (its current database): the topology's. */
  database: string;
  parser: SqlParser;
  /** Every table of `database` now, for the table rule's WITH names. */
  databaseTables(): Promise<Set<string>>;
  /** Runs the canonical text (already checked) within the limits; resolves with the answer in `format`. */
  run(canonical: string, format: ResultFormat, signal?: AbortSignal): Promise<string>;
  close(): Promise<void>;
}
