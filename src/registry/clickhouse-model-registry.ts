import type { ClickHouseClient } from '@clickhouse/client';
import { ConfigError, TributaryError } from '../core/errors.ts';
import { createTableSql, type ColumnDef } from '../clickhouse/create-table.ts';
import { detectDialect } from '../clickhouse/dialect.ts';
import { quoteString, quoteTableName } from '../clickhouse/sql.ts';
import { MODEL_STATUSES, type ModelRegistry, type ModelStatus, type ModelVersion, type NewModelVersion } from './model-registry.ts';

/**
 * The model registry in one append-only ClickHouse table: a row per registration and per status
 * change, each a full copy of the version's lineage, so `SELECT ... ORDER BY updatedAt` is the
 * history and the latest row of a (model, version) is its current status. Plain MergeTree, Int64
 * epoch milliseconds and Float64 metrics: the same DDL on 18.16, current servers and chDB.
 */

const COLUMNS: ColumnDef[] = [
  { name: 'model', type: 'String' },
  { name: 'version', type: 'String', comment: "First 12 hex digits of the file's SHA-256" },
  { name: 'status', type: 'String', comment: 'candidate, shadow, canary, live or retired' },
  { name: 'canaryPercent', type: 'Float64', comment: 'Canary only: percent of keys served by this version' },
  { name: 'updatedAt', type: 'Int64', comment: 'When this status was set, epoch ms (strictly increasing per model)' },
  { name: 'updatedAt_time', type: 'DateTime', alias: 'toDateTime(intDiv(`updatedAt`, 1000))', comment: 'updatedAt as DateTime (seconds)' },
  { name: 'note', type: 'String' },
  { name: 'fileSha256', type: 'String' },
  { name: 'file', type: 'String', comment: 'File name in the model directory, or an absolute path' },
  { name: 'featureSet', type: 'String' },
  { name: 'featureVersion', type: 'String' },
  { name: 'trainedFrom', type: 'Int64', comment: 'First feature row time of the training data, epoch ms (0: unknown)' },
  { name: 'trainedTo', type: 'Int64', comment: 'Last feature row time of the training data, epoch ms (0: unknown)' },
  { name: 'holdoutAuc', type: 'Float64' },
  { name: 'holdoutLogLoss', type: 'Float64' },
  { name: 'holdoutRows', type: 'Int64' },
  { name: 'holdoutPositives', type: 'Int64' },
  { name: 'createdAt', type: 'Int64', comment: 'When the version was trained, epoch ms' },
  { name: 'createdAt_time', type: 'DateTime', alias: 'toDateTime(intDiv(`createdAt`, 1000))', comment: 'createdAt as DateTime (seconds)' },
];

const STORED = COLUMNS.filter((c) => c.alias === undefined);
const SELECTED = STORED.map((c) => c.name).join(', ');
const MODEL_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const VERSION = /^[0-9a-f]{12}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export interface ClickHouseModelRegistryOptions {
  /** Default 'model_registry'. */
  table?: string;
  /** close() also closes the client (default false: the caller that connected it closes it). */
  closeClient?: boolean;
}

export function clickhouseModelRegistry(client: ClickHouseClient, options: ClickHouseModelRegistryOptions = {}): ModelRegistry {
  return new ClickHouseModelRegistry(client, options);
}

class ClickHouseModelRegistry implements ModelRegistry {
  private readonly client: ClickHouseClient;
  private readonly table: string;
  private readonly quoted: string;
  private readonly closeClient: boolean;
  private opened: Promise<void> | undefined;
  /** Writes of this instance, one after another, so updatedAt is read and set without a race. */
  private writes: Promise<unknown> = Promise.resolve();
  /** The last updatedAt this instance wrote per model (the table may not show it yet to other readers). */
  private readonly lastWritten = new Map<string, number>();

  constructor(client: ClickHouseClient, options: ClickHouseModelRegistryOptions) {
    this.client = client;
    this.table = options.table ?? 'model_registry';
    this.quoted = quoteTableName(this.table);
    this.closeClient = options.closeClient ?? false;
  }

  open(): Promise<void> {
    if (!this.opened) {
      this.opened = (async () => {
        const dialect = await detectDialect(this.client);
        await this.client.command({ query: createTableSql(this.table, COLUMNS, { orderBy: ['model', 'updatedAt', 'version'], dialect }) });
      })();
      this.opened.catch(() => (this.opened = undefined));
    }
    return this.opened;
  }

  register(version: NewModelVersion): Promise<ModelVersion> {
    return this.serial(async () => {
      checkNewVersion(version);
      const existing = await this.get(version.model, version.version);
      if (existing) {
        if (existing.fileSha256 !== version.fileSha256) {
          throw new TributaryError(`model ${version.model}@${version.version} is registered with SHA-256 ${existing.fileSha256}, not ${version.fileSha256}. Fix: register the file under the version its own hash gives (writeModelFile)`, { code: 'MODEL_REGISTRY' });
        }
        return existing;
      }
      const row: ModelVersion = {
        ...version,
        metrics: { ...version.metrics },
        status: version.status ?? 'candidate',
        canaryPercent: 0,
        note: version.note ?? 'registered',
        updatedAt: await this.nextUpdatedAt(version.model),
      };
      await this.append(row);
      return row;
    });
  }

  async list(model: string): Promise<ModelVersion[]> {
    const first = new Map<string, number>();
    const latest = new Map<string, ModelVersion>();
    for (const row of await this.history(model)) {
      if (!first.has(row.version)) first.set(row.version, row.updatedAt);
      latest.set(row.version, row);
    }
    // Newest first: by creation, then by registration.
    return [...latest.values()].sort((a, b) => b.createdAt - a.createdAt || first.get(b.version)! - first.get(a.version)!);
  }

  async get(model: string, version: string): Promise<ModelVersion | undefined> {
    const rows = await this.select(`model = ${quoteString(model)} AND version = ${quoteString(version)}`);
    return rows.at(-1);
  }

  setStatus(model: string, version: string, status: ModelStatus, options: { canaryPercent?: number; note?: string } = {}): Promise<void> {
    return this.serial(async () => {
      if (!MODEL_STATUSES.includes(status)) throw new ConfigError('status', `"${String(status)}" is not a model status`, `use one of: ${MODEL_STATUSES.join(', ')}`);
      const percent = options.canaryPercent ?? 0;
      if (status === 'canary' && !(percent > 0 && percent < 100)) {
        throw new ConfigError('canaryPercent', `${percent} is not a canary share for ${model}@${version}`, 'give a percent of keys between 0 and 100 (exclusive), e.g. 10');
      }
      if (status !== 'canary' && percent !== 0) throw new ConfigError('canaryPercent', `only a canary has a percent, not status ${status}`, 'leave canaryPercent out');
      const current = await this.get(model, version);
      if (!current) throw unknownVersion(model, version);
      await this.append({ ...current, status, canaryPercent: percent, note: options.note ?? '', updatedAt: await this.nextUpdatedAt(model) });
    });
  }

  history(model: string): Promise<ModelVersion[]> {
    return this.select(`model = ${quoteString(model)}`);
  }

  async close(): Promise<void> {
    await this.writes.catch(() => {});
    if (this.closeClient) await this.client.close();
  }

  private serial<T>(write: () => Promise<T>): Promise<T> {
    const result = this.writes.then(write, write);
    this.writes = result.catch(() => {});
    return result;
  }

  /** Rows matching `where`, oldest first. */
  private async select(where: string): Promise<ModelVersion[]> {
    await this.open();
    const result = await this.client.query({ query: `SELECT ${SELECTED} FROM ${this.quoted} WHERE ${where} ORDER BY updatedAt, version`, format: 'JSONEachRow' });
    return (await result.json<Record<string, unknown>>()).map(fromRow);
  }

  /**
   * Now, or 1 ms after the model's last change if that is not earlier: two changes within one
   * millisecond (or a clock that stepped back) still get increasing times. Across processes two
   * writers could still pick the same time; the registry is changed by one command at a time.
   */
  private async nextUpdatedAt(model: string): Promise<number> {
    await this.open();
    const result = await this.client.query({ query: `SELECT max(updatedAt) AS last FROM ${this.quoted} WHERE model = ${quoteString(model)}`, format: 'JSONEachRow' });
    const [row] = await result.json<{ last: string | number }>();
    const last = Math.max(Number(row?.last ?? 0), this.lastWritten.get(model) ?? 0);
    const next = Math.max(Date.now(), last + 1);
    this.lastWritten.set(model, next);
    return next;
  }

  /**
   * INSERT ... SELECT of literals. Floats are written as their IEEE-754 bytes: ClickHouse 18.16
   * parses decimal floats (JSON and SQL literals alike) with up to one ulp of error, and metrics
   * must read back exactly as computed.
   */
  private async append(row: ModelVersion): Promise<void> {
    await this.open();
    const values: Record<string, string> = {
      model: quoteString(row.model),
      version: quoteString(row.version),
      status: quoteString(row.status),
      canaryPercent: exactFloat64(row.canaryPercent),
      updatedAt: int64(row.updatedAt),
      note: quoteString(row.note),
      fileSha256: quoteString(row.fileSha256),
      file: quoteString(row.file),
      featureSet: quoteString(row.featureSet),
      featureVersion: quoteString(row.featureVersion),
      trainedFrom: int64(row.trainedFrom),
      trainedTo: int64(row.trainedTo),
      holdoutAuc: exactFloat64(row.metrics.auc),
      holdoutLogLoss: exactFloat64(row.metrics.logLoss),
      holdoutRows: int64(row.metrics.rows),
      holdoutPositives: int64(row.metrics.positives),
      createdAt: int64(row.createdAt),
    };
    const names = STORED.map((c) => c.name);
    await this.client.command({ query: `INSERT INTO ${this.quoted} (${names.join(', ')}) SELECT ${names.map((name) => `${values[name]} AS ${name}`).join(', ')}` });
  }
}

function checkNewVersion(version: NewModelVersion): void {
  const id = `${version.model}@${version.version}`;
  if (!MODEL_NAME.test(version.model)) throw new ConfigError('model', `"${version.model}" is not a valid model name`, "use lowercase letters, digits, - and _ (e.g. 'fraud-lr')");
  if (!SHA256.test(version.fileSha256)) throw new ConfigError(`${id} fileSha256`, `"${version.fileSha256}" is not a hex SHA-256`, 'hash the file with sha256OfFile (src/registry/model-files.ts)');
  if (!VERSION.test(version.version) || !version.fileSha256.startsWith(version.version)) {
    throw new ConfigError(`${id} version`, `"${version.version}" is not the first 12 hex digits of the file's SHA-256 (${version.fileSha256})`, 'use writeModelFile or versionOf(sha256) (src/registry/model-files.ts)');
  }
  if (version.status === 'canary') throw new ConfigError(`${id} status`, 'a version cannot be registered as a canary', 'register it as a candidate, then start the canary (startCanary)');
  if (version.status !== undefined && !MODEL_STATUSES.includes(version.status)) {
    throw new ConfigError(`${id} status`, `"${String(version.status)}" is not a model status`, `use one of: ${MODEL_STATUSES.join(', ')}`);
  }
  if (!version.file) throw new ConfigError(`${id} file`, 'no file name given', 'register the file name returned by writeModelFile');
  for (const [name, value] of [['trainedFrom', version.trainedFrom], ['trainedTo', version.trainedTo], ['createdAt', version.createdAt], ['metrics.rows', version.metrics.rows], ['metrics.positives', version.metrics.positives]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new ConfigError(`${id} ${name}`, `${value} is not a whole non-negative number`, 'give epoch milliseconds and row counts as integers');
  }
}

function unknownVersion(model: string, version: string): TributaryError {
  return new TributaryError(`model ${model} has no version ${version} in the registry. Fix: pick one that \`tributary models list <topology>\` shows, or train one (tributary train <topology>)`, { code: 'MODEL_REGISTRY' });
}

function int64(value: number): string {
  return `toInt64(${Math.trunc(value)})`;
}

/** A Float64 from its little-endian bytes: exact for every double, NaN included. */
export function exactFloat64(value: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return `reinterpretAsFloat64(unhex('${bytes.toString('hex')}'))`;
}

/** Int64 may come back quoted (18.16), and NaN as null. */
function fromRow(row: Record<string, unknown>): ModelVersion {
  const float = (value: unknown) => (value === null || value === undefined ? Number.NaN : Number(value));
  return {
    model: String(row.model),
    version: String(row.version),
    fileSha256: String(row.fileSha256),
    file: String(row.file),
    featureSet: String(row.featureSet),
    featureVersion: String(row.featureVersion),
    trainedFrom: Number(row.trainedFrom),
    trainedTo: Number(row.trainedTo),
    metrics: { auc: float(row.holdoutAuc), logLoss: float(row.holdoutLogLoss), rows: Number(row.holdoutRows), positives: Number(row.holdoutPositives) },
    createdAt: Number(row.createdAt),
    status: String(row.status) as ModelStatus,
    canaryPercent: float(row.canaryPercent),
    updatedAt: Number(row.updatedAt),
    note: String(row.note),
  };
}
