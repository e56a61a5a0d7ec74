import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The house's floors (README "Layout"): a folder of src/ may import its own files and folders on
 * lower floors, never one on its own floor or above. Written out here, not derived from the code,
 * so a new upward import fails this test instead of silently moving a folder up.
 */
const FLOORS: string[][] = [
  ['observability'],
  ['core'],
  ['serde', 'kafka', 'clickhouse', 'features', 'client', 'jobs', 'contracts'],
  ['audit'],
  ['state', 'registry', 'analytics'],
  ['scoring', 'tables', 'sources', 'sinks'],
  ['operators'],
  ['topology'],
  ['push'],
  ['runtime'],
  ['backfill', 'batch', 'training'],
  ['cli'],
];
/** Entry points (src/*.ts) sit above every folder but cli. */
const ENTRY_FLOOR = FLOORS.length - 1;

const root = path.resolve(import.meta.dirname, '../..');
const src = path.join(root, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return tsFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative imports and re-exports of a file, type-only ones marked. */
function importsOf(file: string): Array<{ target: string; typeOnly: boolean }> {
  const text = readFileSync(file, 'utf8');
  const found: Array<{ target: string; typeOnly: boolean }> = [];
  for (const match of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'/gm)) {
    found.push({ target: path.resolve(path.dirname(file), match[3]!), typeOnly: match[2] !== undefined });
  }
  for (const match of text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)) found.push({ target: path.resolve(path.dirname(file), match[1]!), typeOnly: false });
  return found;
}

/** The folder directly under src/ ('' for the entry points in src/ itself). */
function folderOf(file: string): string {
  const parts = path.relative(src, file).split(path.sep);
  return parts.length > 1 ? parts[0]! : '';
}

function floorOf(folder: string): number {
  if (folder === '') return ENTRY_FLOOR;
  const floor = FLOORS.findIndex((names) => names.includes(folder));
  assert.notEqual(floor, -1, `src/${folder}/ is on no floor: add it to FLOORS in test/unit/architecture.test.ts and to the README's layout`);
  return floor;
}

const files = tsFiles(src).filter((file) => !file.startsWith(path.join(src, 'dashboard')));

test('every import runs down the floors (or stays in its folder)', () => {
  const upward: string[] = [];
  for (const file of files) {
    const from = folderOf(file);
    for (const { target } of importsOf(file)) {
      if (!target.startsWith(src)) continue;
      const to = folderOf(target);
      if (to === from) continue;
      if (floorOf(to) >= floorOf(from)) upward.push(`${path.relative(root, file)} -> ${path.relative(root, target)}`);
    }
  }
  assert.deepEqual(upward, []);
});

test('no cycle of value imports between files', () => {
  const graph = new Map(files.map((file) => [file, importsOf(file).filter((i) => !i.typeOnly).map((i) => i.target)]));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, trail: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(root, f)).join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...trail, file]);
    state.set(file, 'done');
  };
  for (const file of files) visit(file, []);
  assert.deepEqual(cycles, []);
});

test('library code never imports cli/, and sources and sinks never import each other', () => {
  const wrong: string[] = [];
  for (const file of files) {
    const from = folderOf(file);
    for (const { target } of importsOf(file)) {
      const to = folderOf(target);
      if ((to === 'cli' && from !== 'cli') || (from === 'sources' && to === 'sinks') || (from === 'sinks' && to === 'sources')) wrong.push(`${path.relative(root, file)} -> ${path.relative(root, target)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the browser client imports nothing outside src/client (no Node built-ins either)', () => {
  const outside: string[] = [];
  for (const file of files.filter((f) => folderOf(f) === 'client')) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+'([^']+)'/gm)) {
      const spec = match[1]!;
      if (!spec.startsWith('.') || folderOf(path.resolve(path.dirname(file), spec)) !== 'client') outside.push(`${path.relative(root, file)}: ${spec}`);
    }
  }
  assert.deepEqual(outside, []);
});

test('topologies import only the package entry points', () => {
  const dir = path.join(root, 'topologies');
  const deep: string[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(path.join(dir, name), 'utf8');
    for (const match of text.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+'([^']+)'/gm)) {
      const spec = match[1]!;
      if (spec.includes('/src/') || spec.startsWith('../')) deep.push(`topologies/${name}: ${spec}`);
    }
  }
  assert.deepEqual(deep, []);
});
