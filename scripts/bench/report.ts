/** The results table on stdout and the JSON file in bench-results/. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchResult } from './common.ts';

export function printTable(results: BenchResult[]): void {
  const header = ['phase', 'events', 'seconds', 'events/s', 'cpu/s', 'load'];
  const rows = results.map((r) => [
    r.label,
    r.events.toLocaleString('en-US'),
    r.seconds.toFixed(3),
    Math.round(r.eventsPerSecond).toLocaleString('en-US'),
    r.cpuPerWallSecond.toFixed(2),
    `${r.loadAvgBefore.toFixed(2)}→${r.loadAvgAfter.toFixed(2)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log('');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log('');
  for (const r of results) if (r.note) console.log(`  ${r.label}: ${r.note}`);
  console.log('  cpu/s: process CPU seconds per wall second (2 = both cores); load: 1-min load average before→after');
}

/** Writes bench-results/bench-<timestamp>.json with the machine and the options; returns its path. */
export async function writeJson(results: BenchResult[], options: Record<string, unknown>): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = 'bench-results';
  await mkdir(dir, { recursive: true });
  const file = join(dir, `bench-${stamp}.json`);
  const machine = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAvg: loadavg(),
    gitCommit: gitCommit(),
  };
  await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), machine, options, results }, null, 2)}\n`);
  return file;
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}
