import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { SinkError, errorMessage } from '../../core/errors.ts';
import { BatchingSink } from '../batching-sink.ts';
import type { SinkEnvironment } from '../sink.ts';
import type { DeadLetter } from '../../core/batch.ts';
import { jsonBytes } from '../../core/json-bytes.ts';
import { detectDialect, type ClickHouseDialect } from '../../clickhouse/dialect.ts';
import { clickHouseErrorCode, toSinkError } from '../../clickhouse/errors.ts';
import { insertTokenFunction, type RowIdentity } from '../../clickhouse/insert-token.ts';
import { quoteIdentifier, quoteTableName } from '../../clickhouse/sql.ts';
import { checkExistingTable, type ExpectedTable } from '../../clickhouse/table-check.ts';

/** How rows of type T land in one table, known once the server's dialect is. */
export interface TablePlan<T> {
  /** CREATE TABLE IF NOT EXISTS statement. */
  ddl: string;
  /** Columns each row sets; the INSERT names them so that the others get their DEFAULT. */
  columns: string[];
  /** One JSONEachRow object per row, holding exactly `columns`. */
  toRow: (row: T) => Record<string, unknown>;
  /**
   * Optional fast path: the same row as its values in `columns` order (one JSONCompactEachRow
   * array), without the object. Derived from `toRow` when absent.
   */
  toValues?: (row: T) => unknown[];
  /**
   * The engine and key an existing table must have (checked after CREATE TABLE IF NOT EXISTS,
   * which leaves an existing table as it is): set where the sink promises deduplication.
   */
  expected?: ExpectedTable;
  /**
   * What identifies a row (replacing tables): each insert then carries an
   * `insert_deduplication_token` derived from its rows, where the server has the setting.
   */
  identity?: RowIdentity;
}

/** The two JSON insert formats: arrays where the server reads them, objects elsewhere. */
export type InsertFormat = 'JSONCompactEachRow' | 'JSONEachRow';

export interface ClickHouseSinkOptions<T> {
  table: string;
  plan: (dialect: ClickHouseDialect) => Promise<TablePlan<T>> | TablePlan<T>;
  maxRows?: number;
  maxDelayMs?: number;
  maxBufferedRows?: number;
  /** A row's event time (epoch ms), for the end-to-end latency histogram of this sink. */
  eventTime?: (row: T) => number;
}

/**
 * A BatchingSink into one ClickHouse table: `open()` creates the table if absent, each chunk
 * is one INSERT INTO t (columns) FORMAT JSONCompactEachRow where the server reads it (chDB,
 * current servers), else FORMAT JSONEachRow (18.16), its body one Buffer outside the JS heap
 * (bodyChunks). Arrays skip building a keyed object per row and JSON.stringify writing every
 * key; the stored rows are the same. Inserts into tables
 * with a row identity carry a token derived from their rows (insert-token.ts), so a retry of
 * an insert the server already wrote is dropped where the server supports tokens.
 */
export class ClickHouseSink<T> extends BatchingSink<T> {
  private readonly env: SinkEnvironment;
  private readonly table: string;
  private readonly tableName: string;
  private readonly makePlan: ClickHouseSinkOptions<T>['plan'];
  private client: ClickHouseClient | undefined;
  private encode: ((row: T) => unknown) | undefined;
  private format: InsertFormat = 'JSONEachRow';
  /** `INSERT INTO t (columns) FORMAT f`, known after open(). */
  private insertQuery = '';
  private settings: ClickHouseSettings = {};
  /** The insert's `insert_deduplication_token`; undefined where the server has no such setting. */
  private tokenOf: ((values: readonly unknown[]) => string) | undefined;

  constructor(env: SinkEnvironment, options: ClickHouseSinkOptions<T>) {
    super({
      name: `clickhouse:${options.table}`,
      topology: env.topology,
      logger: env.logger,
      metrics: env.metrics,
      maxRows: options.maxRows,
      maxDelayMs: options.maxDelayMs,
      maxBufferedRows: options.maxBufferedRows,
      eventTimeOf: options.eventTime,
      // Rows the table can never accept stop the engine with the server's message...
      onFatal: (error) => env.fail(error),
      // ...unless only some rows are at fault: those become dead letters (not for the
      // dead-letter sinks themselves, whose environment has no deadLetter).
      onRejectedRow: env.deadLetter === undefined ? undefined : (row, error, acks) => env.deadLetter!([rejectedRowLetter(`sink:clickhouse:${options.table}`, row, error)], acks),
      isRowRejection,
    });
    this.env = env;
    this.table = quoteTableName(options.table);
    this.tableName = options.table;
    this.makePlan = options.plan;
  }

  override async open(): Promise<void> {
    const client = await this.env.clickhouse();
    const dialect = await detectDialect(client);
    const plan = await this.makePlan(dialect);
    try {
      await client.command({ query: plan.ddl });
    } catch (error) {
      throw toSinkError(this.name, `creating table ${this.table}`, error);
    }
    if (plan.expected !== undefined) await checkExistingTable(client, this.name, this.tableName, plan.columns, plan.expected);
    const [first, ...rest] = plan.columns;
    if (first === undefined) throw new SinkError(this.name, `table ${this.table} has no columns to write`, { retriable: false });
    this.client = client;
    this.format = dialect.supportsJsonCompactEachRow ? 'JSONCompactEachRow' : 'JSONEachRow';
    this.insertQuery = `INSERT INTO ${this.table} (${[first, ...rest].map(quoteIdentifier).join(', ')}) FORMAT ${this.format}`;
    this.encode = this.format === 'JSONEachRow' ? plan.toRow : (plan.toValues ?? inColumnOrder(plan.columns, plan.toRow));
    // chDB turns async_insert on by default; this sink batches already, so insert directly.
    // 18.16 rejects unknown settings, hence only where the setting exists.
    this.settings = dialect.supportsAsyncInsert ? { async_insert: 0 } : {};
    // Every insert names its token, '' for tables without an identity: chDB turns each setting
    // into a session-wide SET, so an omitted token would be the previous insert's.
    this.tokenOf = !dialect.supportsInsertDeduplicationToken
      ? undefined
      : plan.identity === undefined
        ? () => ''
        : insertTokenFunction(plan.identity, plan.columns, this.format === 'JSONCompactEachRow');
    this.logger.debug({ sink: this.name, ddl: plan.ddl, format: this.format }, `table ${this.table} ready`);
  }

  /** The format of this sink's inserts, known after open(). */
  get insertFormat(): InsertFormat {
    return this.format;
  }

  protected async writeRows(rows: T[]): Promise<void> {
    const client = this.client;
    const encode = this.encode;
    if (!client || !encode) throw new SinkError(this.name, 'write before open()', { retriable: false });
    const values = new Array<unknown>(rows.length);
    let body: Buffer[];
    try {
      for (let i = 0; i < rows.length; i++) values[i] = encode(rows[i]!);
      body = bodyChunks(values);
    } catch (error) {
      throw new SinkError(this.name, `turning a record into a row failed: ${errorMessage(error)}`, { retriable: false, cause: error });
    }
    const settings = this.tokenOf === undefined ? this.settings : { ...this.settings, insert_deduplication_token: this.tokenOf(values) };
    try {
      // One Buffer outside the JS heap (see bodyChunks), written in one piece: a stream of the
      // chunks would wait for an event-loop turn per chunk, and a busy loop (a burst of window
      // closes) made the inserts' acknowledgements ~250 ms slower at p99 that way.
      const result = await client.exec({ query: this.insertQuery, values: Readable.from([Buffer.concat(body)]), clickhouse_settings: settings });
      // An insert answers with an empty body; reading it to the end keeps the connection for the next one.
      result.stream.resume();
      await finished(result.stream);
    } catch (error) {
      throw toSinkError(this.name, `inserting ${rows.length} rows into ${this.table}`, error);
    }
  }
}

/** Characters of JSON per body chunk (the string is short-lived; its bytes are what the request holds). */
const CHUNK_CHARS = 32 * 1024;

/**
 * An insert's body (one JSON document and a newline per row, as the client's insert would send)
 * as UTF-8 chunks of about CHUNK_CHARS, outside the JS heap. The client's insert joins all rows
 * into one string held until the server has read it: a few MB per insert of 10,000 rows,
 * allocated as a large object, which only a full mark-compact reclaims. Strings of the chunks
 * would still outlive the young generation while a busy server reads slowly; Buffers keep the
 * bytes off the heap, and each chunk's string dies at once. writeRows sends them as one Buffer.
 */
export function bodyChunks(values: readonly unknown[]): Buffer[] {
  const chunks: Buffer[] = [];
  let lines: string[] = [];
  let length = 0;
  for (let i = 0; i < values.length; i++) {
    const line = JSON.stringify(values[i]);
    lines.push(line);
    length += line.length + 1;
    if (length >= CHUNK_CHARS) {
      lines.push('');
      chunks.push(Buffer.from(lines.join('\n')));
      lines = [];
      length = 0;
    }
  }
  if (lines.length > 0) {
    lines.push('');
    chunks.push(Buffer.from(lines.join('\n')));
  }
  return chunks;
}

/** Column-ordered values from the row's object (plans off the hot path give only `toRow`). */
function inColumnOrder<T>(columns: string[], toRow: (row: T) => Record<string, unknown>): (row: T) => unknown[] {
  return (row) => {
    const object = toRow(row);
    return columns.map((column) => object[column]);
  };
}

/**
 * Server errors about the statement, the table or the user rather than the rows (unknown
 * column/table/database, syntax, setting, read-only, authentication): bisecting cannot isolate
 * a row, so these stay fatal. Everything else non-retriable, encoding errors included, may be.
 */
const STATEMENT_CODES = new Set([16, 60, 62, 81, 115, 164, 192, 193, 194, 497, 516]);

function isRowRejection(error: unknown): boolean {
  const code = clickHouseErrorCode(error instanceof Error && error.cause !== undefined ? error.cause : error) ?? clickHouseErrorCode(error);
  return code === undefined || !STATEMENT_CODES.has(code);
}

/**
 * The dead letter of a row the table rejected. A StreamRecord (table sinks) or a record with
 * its provenance (late records) names its topic, partition and offset; other rows get none.
 * `raw` is the JSON of the record's value (of the row otherwise) as UTF-8: the original Kafka
 * bytes are not available to a sink, so a replay must re-encode them from it.
 */
export function rejectedRowLetter(step: string, row: unknown, error: Error): DeadLetter {
  const record = isRecord(row) ? row : undefined;
  const letter: DeadLetter = {
    step,
    topic: record?.topic ?? '',
    partition: record?.partition ?? -1,
    offset: record?.offset ?? '',
    error: error.message,
    raw: jsonBytes(record ? record.value : row),
  };
  if (record && typeof record.key === 'string' && record.key !== '') letter.key = record.key;
  return letter;
}

function isRecord(row: unknown): row is { topic: string; partition: number; offset: string; value: unknown; key?: unknown } {
  if (typeof row !== 'object' || row === null || !('value' in row)) return false;
  const r = row as { topic?: unknown; partition?: unknown; offset?: unknown };
  return typeof r.topic === 'string' && typeof r.partition === 'number' && typeof r.offset === 'string';
}
