import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './services.ts';

/** One hostile query of test/fixtures/sql-corpus/<category>.jsonl. */
export interface CorpusEntry {
  category: string;
  /** The text with {{PLACEHOLDERS}}, or absent for a generated one. */
  sql?: string;
  /** A generator of long or deeply nested texts (see `generate`). */
  generate?: string;
  depth?: number;
  count?: number;
  bytes?: number;
  /** Harmless if answered (a control inside the corpus): any status is fine. */
  may_answer?: boolean;
  /** Refused for analysts; an admin may read it (the dead-letter table). */
  analyst_only?: boolean;
}

/** What the {{PLACEHOLDERS}} stand for on one target. */
export interface CorpusPlaces {
  TABLE: string;
  LETTERS: string;
  DB: string;
  OTHER_DB: string;
  SECRET_FILE: string;
  SECRET_DIR: string;
  LISTENER_HOST: string;
  /** A fresh path where a write would land, per query. */
  out: () => string;
}

export const CORPUS_DIR = path.join(REPO_ROOT, 'test/fixtures/sql-corpus');

export function loadCorpus(): CorpusEntry[] {
  return readdirSync(CORPUS_DIR)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) =>
      readFileSync(path.join(CORPUS_DIR, name), 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => ({ category: name.replace(/\.jsonl$/, ''), ...(JSON.parse(line) as Omit<CorpusEntry, 'category'>) })),
    );
}

/** The entry's text for one target: placeholders filled, generated texts built. */
export function corpusText(entry: CorpusEntry, places: CorpusPlaces): string {
  const template = entry.sql ?? generate(entry, places);
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (match, name: string) => {
    if (name === 'OUT') return places.out();
    if (name === 'LISTENER') return `http://${places.LISTENER_HOST}`;
    if (name === 'LISTENER_PORT') return places.LISTENER_HOST.split(':')[1]!;
    const value = (places as unknown as Record<string, unknown>)[name];
    if (typeof value !== 'string') throw new Error(`unknown corpus placeholder ${match}`);
    return value;
  });
}

/** Long and deeply nested texts: parser depth, AST size and the 64 KiB limit. */
function generate(entry: CorpusEntry, places: CorpusPlaces): string {
  const depth = entry.depth ?? 0;
  const count = entry.count ?? 0;
  const bytes = entry.bytes ?? 0;
  const table = places.TABLE;
  switch (entry.generate) {
    case 'nested-parens':
      return `SELECT ${'('.repeat(depth)}1${')'.repeat(depth)} AS n`;
    case 'nested-subqueries':
      return `${'SELECT * FROM ('.repeat(depth)}SELECT count() AS n FROM ${table}${')'.repeat(depth)}`;
    case 'nested-functions':
      return `SELECT ${'abs('.repeat(depth)}1${')'.repeat(depth)} AS n`;
    case 'long-in-list':
      return `SELECT count() AS n FROM ${table} WHERE id IN (${Array.from({ length: count }, (_, i) => i).join(', ')})`;
    case 'long-string':
      return `SELECT length('${'x'.repeat(bytes)}') AS n`;
    case 'over-size':
      return `SELECT '${'x'.repeat(bytes)}'`;
    case 'many-columns':
      return `SELECT ${Array.from({ length: count }, (_, i) => `${i} AS c${i}`).join(', ')}`;
    case 'long-sum':
      return `SELECT ${Array.from({ length: count }, () => '1').join(' + ')} AS n`;
    case 'many-unions':
      return Array.from({ length: count }, (_, i) => `SELECT ${i} AS n`).join(' UNION ALL ');
    case 'deep-lambdas':
      return `SELECT ${'arrayMap(x -> '.repeat(depth)}x${', [1])'.repeat(depth)} AS n`;
    case 'long-comment-then-statement':
      return `SELECT 1 /* ${'-'.repeat(bytes)} */; SELECT file('/proc/self/environ')`;
    case 'long-multiif':
      return `SELECT multiIf(${Array.from({ length: count }, (_, i) => `id = ${i}, ${i}`).join(', ')}, -1) AS n FROM ${table}`;
    case 'nested-arrays':
      return `SELECT ${'['.repeat(depth)}1${']'.repeat(depth)} AS n`;
    case 'long-string-then-file':
      return `SELECT '${'y'.repeat(bytes)}' AS s, file('/proc/self/environ') AS f`;
    case 'nested-not':
      return `SELECT ${'NOT '.repeat(depth)}1 AS n`;
    default:
      throw new Error(`unknown corpus generator ${entry.generate}`);
  }
}
