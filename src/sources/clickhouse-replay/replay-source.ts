import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { ConfigError, TributaryError, errorMessage } from '../../core/errors.ts';
import { retry } from '../../core/retry.ts';
import { firstLine, isPermanentClickHouseError } from '../../clickhouse/errors.ts';
import type { Source, SourceBatch, SourceContext, SourceSpec } from '../source.ts';
import { ReplayBatcher } from './replay-batches.ts';
import { ReplayPacer } from './replay-pacer.ts';
import { replayPages, type PageRequest } from './replay-pages.ts';
import { planReplay, type ReplayPlan, type ReplayRow } from './replay-plan.ts';

export interface ReplayProgress {
  /** Rows handed to the engine so far. */
  read: number;
  /** Of those, rows without a valid event time, handed on as dead letters. */
  deadLetters: number;
  /** Rows in the range when the replay started. */
  total: number;
}

export interface ClickHouseReplayOptions<T> {
  /** The events table, as created by the topology's raw clickhouseTable sink. */
  table: string;
  /** Its Avro schema: a file in the schemas folder (e.g. 'payment.avsc') or the parsed schema. */
  schema: string | object;
  /** Its event-time column (epoch ms). */
  timeColumn: string;
  /** Epoch ms: the replay reads rows with from <= time < to. */
  from: number;
  to: number;
  /** Rows per query (default 10,000); memory holds about two pages. */
  batchSize?: number;
  /** The event time of a value: the topology source's. */
  eventTime: (value: T) => number;
  /** The topology source's out-of-orderness. */
  outOfOrdernessMs: number;
  /** Read with FINAL (each replaced row once); default: when the table is a ReplacingMergeTree. */
  final?: boolean;
  /**
   * A client on the server holding the table; the replay does not close it. On chDB give it a
   * client of its own: chDB keeps each query's settings (the JSON ones below) for its session.
   */
  clickhouse: () => Promise<ClickHouseClient>;
  /** Called after each batch handed to the engine. */
  onProgress?: (progress: ReplayProgress) => void;
  /** At most this many events per second (default: as fast as the pipeline takes them). */
  maxEventsPerSecond?: number;
}

/** A bounded source over stored events; `prepare` checks the table and counts the rows early. */
export interface ReplaySourceSpec<T> extends SourceSpec<T> {
  /** Checks table and schema and counts the rows of the range; shared with the source's start. */
  prepare(schemasDir: string): Promise<{ plan: ReplayPlan; total: number }>;
}

/**
 * Events read back from a ClickHouse table in event-time order (ties in Kafka order where the
 * table has provenance columns): the source of `tributary backfill`. Values come back as the
 * Avro decoder gives them (row-decoders.ts), records keep their Kafka provenance, and each batch
 * waits in `context.push` while the engine is busy, so the replay runs at the pipeline's pace.
 * Works on ClickHouse 18.16 over HTTP and on chDB.
 *
 * @example clickhouseReplay({ table: 'payments', schema: 'payment.avsc', timeColumn: 'ts', from, to,
 *   eventTime: (p) => p.ts, outOfOrdernessMs: 5000, clickhouse: () => client })
 */
export function clickhouseReplay<T>(options: ClickHouseReplayOptions<T>): ReplaySourceSpec<T> {
  const field = `clickhouse replay ${options.table}`;
  const batchSize = options.batchSize ?? 10_000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`${field} batchSize`, `${batchSize} is not a positive integer`, 'use e.g. 10000');
  for (const [name, value] of [['from', options.from], ['to', options.to]] as const) {
    if (!Number.isSafeInteger(value) || Math.abs(value) > MAX_TIME) throw new ConfigError(`${field} ${name}`, `${value} is not a whole number of epoch milliseconds`, 'give a time such as 2026-01-31T00:00:00Z or epoch ms');
  }
  const rate = options.maxEventsPerSecond;
  if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) throw new ConfigError(`${field} maxEventsPerSecond`, `${rate} is not a positive number`, 'use e.g. 20000, or leave it unset for no limit');
  if (!(options.to > options.from)) throw new ConfigError(`${field} to`, `${new Date(options.to).toISOString()} is not after from (${new Date(options.from).toISOString()})`, 'give a to time after the from time (to is exclusive)');
  let prepared: Promise<{ plan: ReplayPlan; total: number }> | undefined;
  const spec: ReplaySourceSpec<T> = {
    description: `ClickHouse replay of ${options.table} [${new Date(options.from).toISOString()}, ${new Date(options.to).toISOString()})`,
    outOfOrdernessMs: options.outOfOrdernessMs,
    eventTime: options.eventTime,
    prepare: (schemasDir) => {
      if (prepared === undefined) {
        prepared = prepare(options, schemasDir, field);
        prepared.catch(() => (prepared = undefined)); // a later call tries again
      }
      return prepared;
    },
    create: (environment) => new ReplaySource(options, batchSize, Math.min(batchSize, environment.maxChunkRecords), () => spec.prepare(environment.schemasDir)),
  };
  return spec;
}

async function prepare<T>(options: ClickHouseReplayOptions<T>, schemasDir: string, field: string): Promise<{ plan: ReplayPlan; total: number }> {
  const schema = typeof options.schema === 'string' ? await loadSchema(schemasDir, options.schema, field) : options.schema;
  const client = await options.clickhouse();
  const plan = await planReplay(client, { table: options.table, schema, timeColumn: options.timeColumn, final: options.final });
  const [counted] = await query(client, `SELECT count() FROM ${plan.source} WHERE ${range(plan, options.from, options.to)}`, `counting the rows of ${plan.table}`);
  return { plan, total: Number(counted![0]) };
}

/** The largest epoch ms a Date holds (±100,000,000 days). */
const MAX_TIME = 8.64e15;

/** JSON with exact 64-bit integers (quoted) and NaN/Infinity (as "nan", "inf") on both servers. */
const SETTINGS: ClickHouseSettings = { output_format_json_quote_64bit_integers: 1, output_format_json_quote_denormals: 1 };

/** Runs a SELECT, retrying transient failures (a server restarting) a few times with backoff. */
function query(client: ClickHouseClient, sql: string, what: string): Promise<unknown[][]> {
  return retry(
    async () => {
      try {
        // JSONCompact (not ...EachRow): 18.16 has it as an output format, and arrays parse faster than objects.
        const result = await client.query({ query: sql, format: 'JSONCompact', clickhouse_settings: SETTINGS });
        return (await result.json<unknown[]>()).data;
      } catch (error) {
        throw new TributaryError(`${what} failed: ${firstLine(errorMessage(error))}`, { retriable: !isPermanentClickHouseError(error), code: 'REPLAY_QUERY', cause: error });
      }
    },
    { what, maxAttempts: 5, initialDelayMs: 250, maxDelayMs: 4_000 },
  );
}

function range(plan: ReplayPlan, from: number, to: number): string {
  return `${plan.time} >= ${from} AND ${plan.time} < ${to}`;
}

class ReplaySource<T> implements Source<T> {
  readonly description: string;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  /** Aborted by stop(), ending a pacing wait at once. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly options: ClickHouseReplayOptions<T>,
    private readonly pageSize: number,
    private readonly chunk: number,
    private readonly prepared: () => Promise<{ plan: ReplayPlan; total: number }>,
  ) {
    this.description = `replay of ClickHouse table ${options.table}`;
  }

  async start(context: SourceContext<T>): Promise<void> {
    const { plan, total } = await this.prepared(); // a missing table fails the engine's start
    const partitionKey = `replay:${plan.table}`;
    context.assigned([partitionKey]);
    this.running = true;
    this.loop = this.run(context, plan, total, partitionKey).catch((error) => context.fail(error));
  }

  private async run(context: SourceContext<T>, plan: ReplayPlan, total: number, partitionKey: string): Promise<void> {
    const { options } = this;
    const client = await options.clickhouse();
    const order = [plan.time, ...plan.tiebreak].join(', ');
    const read = async (request: PageRequest): Promise<ReplayRow[]> => {
      const limit = request.offset > 0 ? `${request.offset}, ${request.limit}` : String(request.limit);
      const sql = `SELECT ${plan.columns} FROM ${plan.source} WHERE ${range(plan, request.from, request.to)} ORDER BY ${order} LIMIT ${limit}`;
      return (await query(client, sql, `reading rows of ${plan.table}`)).map(plan.toRow);
    };
    const pages = replayPages(read, (row) => row.time, { from: options.from, to: options.to, pageSize: this.pageSize, total });
    const batcher = new ReplayBatcher<T>({ partitionKey, chunk: this.chunk, eventTime: options.eventTime });
    const pacer = options.maxEventsPerSecond === undefined ? undefined : new ReplayPacer(options.maxEventsPerSecond);
    let handed = 0;
    let deadLetters = 0;
    const push = async (batches: SourceBatch<T>[]) => {
      for (const batch of batches) {
        await context.push(batch);
        const count = batch.records.length + batch.deadLetters.length;
        handed += count;
        deadLetters += batch.deadLetters.length;
        options.onProgress?.({ read: handed, deadLetters, total });
        if (pacer) await pacer.handed(count, this.stopping.signal);
      }
    };
    // One page is read while the one before is pushed: a query's latency overlaps the pipeline.
    let next = pages.next();
    next.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
    while (this.running) {
      const page = await next;
      if (page.done) break;
      next = pages.next();
      next.catch(() => {});
      await push(batcher.add(page.value));
    }
    if (!this.running) {
      await next.catch(() => {}); // stopped: the page read ahead is not needed, nor its failure
      await pages.return(undefined);
      return;
    }
    await push(batcher.flush());
    context.end();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.loop;
  }

  async commit(): Promise<void> {}

  async close(): Promise<void> {}
}

async function loadSchema(schemasDir: string, file: string, field: string): Promise<object> {
  const path = join(schemasDir, file);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as object;
  } catch (error) {
    throw new ConfigError(`${field} schema`, `cannot read ${path} as JSON (${errorMessage(error)})`, 'name an .avsc file in the schemas folder, e.g. "payment.avsc"');
  }
}
