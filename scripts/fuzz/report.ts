/** The fuzz summary on stdout and the JSON file in bench-results/. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { type TargetResult, passed } from './outcomes.ts';

const mib = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '-' : value.toFixed(1));

export function printSummary(results: TargetResult[]): void {
  const header = ['target', 'cases', 'crashes', 'accepted', 'failures', 'cases/s', 'seconds', 'heap peak MiB', 'RSS start/peak/end MiB', 'verdict'];
  const rows = results.map((r) => [
    r.target,
    r.cases.toLocaleString('en-US'),
    String(r.crashes),
    r.accepted === undefined ? '-' : String(r.accepted),
    String(r.failures.length),
    Math.round(r.cases / r.seconds).toLocaleString('en-US'),
    r.seconds.toFixed(1),
    mib(r.memory.heapPeakMiB),
    `${mib(r.memory.rssStartMiB)}/${mib(r.memory.rssPeakMiB)}/${mib(r.memory.rssEndMiB)}`,
    passed(r) ? 'ok' : 'FAILED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  for (const r of results) {
    console.log(`\n${r.target}: outcomes`);
    for (const [outcome, count] of Object.entries(r.outcomes)) console.log(`  ${count.toLocaleString('en-US').padStart(9)}  ${outcome}`);
    for (const failure of r.failures.slice(0, 20)) console.log(`  FAILURE: ${failure}`);
    if (r.failures.length > 20) console.log(`  ... ${r.failures.length - 20} more failures in the JSON file`);
  }
  console.log('');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log('  avro: heap and RSS of the decoding process (run under --max-old-space-size); frames, tokens: of the push server process');
}

/** Writes bench-results/fuzz-<timestamp>.json; returns its path. */
export async function writeSummary(results: TargetResult[], options: Record<string, unknown>): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = 'bench-results';
  await mkdir(dir, { recursive: true });
  const file = join(dir, `fuzz-${stamp}.json`);
  const machine = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAvg: loadavg(), gitCommit: gitCommit() };
  const ok = results.every(passed);
  await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), ok, machine, options, results }, null, 2)}\n`);
  return file;
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}
