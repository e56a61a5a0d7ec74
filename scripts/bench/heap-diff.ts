/**
 * What a live heap gained between two V8 heap snapshots: objects and bytes per kind and
 * constructor (node type and name), largest growth first. For soaks: a steady engine's heap
 * should gain nothing between minute 5 and minute 15.
 *
 *   node --import tsx scripts/bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [--top 25]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Tally {
  count: number;
  bytes: number;
}

/** Objects and self bytes per "type name" (a string's name is its content: those are grouped as one). */
function tally(file: string): Map<string, Tally> {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field));
  const byKind = new Map<string, Tally>();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt!]!]!;
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' ? '' : snapshot.strings[snapshot.nodes[i + nameAt!]!]!.slice(0, 60);
    const kind = `${type} ${name}`.trim();
    const entry = byKind.get(kind) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snapshot.nodes[i + sizeAt!]!;
    byKind.set(kind, entry);
  }
  return byKind;
}

const [before, after] = process.argv.slice(2, 4);
if (!before || !after) throw new Error('usage: heap-diff.ts before.heapsnapshot after.heapsnapshot [--top N]');
const topIndex = process.argv.indexOf('--top');
const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 25;
const [a, b] = [tally(before), tally(after)];
const total = (m: Map<string, Tally>) => [...m.values()].reduce((sum, t) => sum + t.bytes, 0);
const rows = [...new Set([...a.keys(), ...b.keys()])].map((kind) => {
  const x = a.get(kind) ?? { count: 0, bytes: 0 };
  const y = b.get(kind) ?? { count: 0, bytes: 0 };
  return { kind, count: y.count - x.count, bytes: y.bytes - x.bytes, after: y.bytes };
});
rows.sort((p, q) => q.bytes - p.bytes);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
console.log(`heap: ${mib(total(a))} MiB -> ${mib(total(b))} MiB (${mib(total(b) - total(a))} MiB)`);
console.log('MiB gained  objects gained  MiB after  kind');
for (const row of rows.slice(0, top)) console.log(`${mib(row.bytes).padStart(10)}  ${String(row.count).padStart(14)}  ${mib(row.after).padStart(9)}  ${row.kind}`);
