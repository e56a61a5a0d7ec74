import { readFile } from 'node:fs/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { createTableSql, type ColumnDef } from '../clickhouse/create-table.ts';
import { detectDialect } from '../clickhouse/dialect.ts';
import { quoteString, quoteTableName } from '../clickhouse/sql.ts';
import { exactFloat64 } from './clickhouse-model-registry.ts';
import type { DriftBaseline } from './drift-baseline.ts';

/**
 * Drift baselines next to the model registry, in their own table (`model_baselines`): one row per
 * model version and histogram (each input, then the score), with its bin edges and training
 * counts. Written once per version: by `tributary train`, or the first time the engine serves a
 * version whose model file's sidecar (.json) carries a baseline (the shipped model). Plain
 * MergeTree with arrays, Int64 epoch ms: the same DDL on 18.16, current servers and chDB.
 */

const COLUMNS: ColumnDef[] = [
  { name: 'model', type: 'String' },
  { name: 'version', type: 'String' },
  { name: 'position', type: 'UInt16', comment: "The histogram's place: the model's inputs in order, then the score" },
  { name: 'feature', type: 'String', comment: "Model input name, or 'score'" },
  { name: 'edges', type: 'Array(Float64)', comment: 'Ascending bin edges: value v falls in bin number arrayCount(e -> e < v, edges), from 0' },
  { name: 'counts', type: 'Array(UInt64)', comment: 'Training rows per bin: one more than edges' },
  { name: 'rows', type: 'UInt64', comment: 'Training rows counted' },
  { name: 'source', type: 'String', comment: 'Where the baseline was computed: training, or the model file sidecar' },
  { name: 'createdAt', type: 'Int64', comment: 'Epoch ms' },
];

export interface StoredBaseline extends DriftBaseline {
  source: string;
  createdAt: number;
}

export class BaselineStore {
  private readonly quoted: string;
  private opened: Promise<void> | undefined;

  constructor(
    private readonly client: ClickHouseClient,
    readonly table = 'model_baselines',
  ) {
    this.quoted = quoteTableName(table);
  }

  open(): Promise<void> {
    this.opened ??= (async () => {
      const dialect = await detectDialect(this.client);
      await this.client.command({ query: createTableSql(this.table, COLUMNS, { orderBy: ['model', 'version', 'position'], dialect }) });
    })();
    this.opened.catch(() => (this.opened = undefined));
    return this.opened;
  }

  /** The version's baseline (the latest written, should there be several), or undefined. */
  async get(model: string, version: string): Promise<StoredBaseline | undefined> {
    await this.open();
    const query = `SELECT position, feature, edges, counts, rows, source, createdAt FROM ${this.quoted} WHERE model = ${quoteString(model)} AND version = ${quoteString(version)} ORDER BY createdAt, position`;
    const rows = await (await this.client.query({ query, format: 'JSONEachRow' })).json<{ position: number; feature: string; edges: number[]; counts: Array<string | number>; rows: string | number; source: string; createdAt: string | number }>();
    if (rows.length === 0) return undefined;
    const createdAt = Number(rows.at(-1)!.createdAt);
    const latest = rows.filter((row) => Number(row.createdAt) === createdAt);
    return {
      rows: Number(latest[0]!.rows),
      source: latest[0]!.source,
      createdAt,
      features: latest.map((row) => ({ name: row.feature, edges: row.edges.map(Number), counts: row.counts.map(Number) })),
    };
  }

  /**
   * Stores `baseline` for the version unless it has one already; returns the stored one. Edges
   * are written as their IEEE-754 bytes, so they read back exactly (18.16 parses decimals with up
   * to one ulp of error, which would move a training value on an edge into the next bin).
   */
  async save(model: string, version: string, baseline: DriftBaseline, source: string, createdAt = Date.now()): Promise<StoredBaseline> {
    const existing = await this.get(model, version);
    if (existing) return existing;
    const selects = baseline.features.map((feature, position) => {
      const edges = feature.edges.length === 0 ? 'emptyArrayFloat64()' : `[${feature.edges.map(exactFloat64).join(', ')}]`;
      const counts = `[${feature.counts.map((count) => `toUInt64(${Math.trunc(count)})`).join(', ')}]`;
      return `SELECT ${quoteString(model)} AS model, ${quoteString(version)} AS version, toUInt16(${position}) AS position, ${quoteString(feature.name)} AS feature, ${edges} AS edges, ${counts} AS counts, toUInt64(${Math.trunc(baseline.rows)}) AS rows, ${quoteString(source)} AS source, toInt64(${Math.trunc(createdAt)}) AS createdAt`;
    });
    const names = COLUMNS.map((c) => c.name).join(', ');
    await this.client.command({ query: `INSERT INTO ${this.quoted} (${names}) SELECT ${names} FROM (${selects.join(' UNION ALL ')})` });
    return { ...baseline, source, createdAt };
  }
}

/** The `baseline` of a model file's sidecar (`<file>.json`, as the training scripts write it), or undefined. */
export async function readSidecarBaseline(modelPath: string): Promise<DriftBaseline | undefined> {
  try {
    const card = JSON.parse(await readFile(modelPath.replace(/\.onnx$/i, '') + '.json', 'utf8')) as { baseline?: DriftBaseline };
    const baseline = card.baseline;
    if (baseline && typeof baseline.rows === 'number' && Array.isArray(baseline.features)) return baseline;
  } catch {
    // No sidecar, or not ours: the version is served without drift monitoring.
  }
  return undefined;
}
