import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AvroChildConfig, ChunkReport } from './avro-child.ts';
import { type ChildExit, describeExit, startTsChild } from './child-process.ts';
import { type MemoryFigures, MiB, Tally, type TargetResult, toMiB } from './outcomes.ts';

export interface AvroFuzzOptions {
  cases: number;
  seed: number;
  /** V8 heap cap of the decoding process (--max-old-space-size); past it the process dies, which counts as a crash. */
  heapMiB?: number;
  chunkSize?: number;
  /** Directories of .avsc files with a registry.json, relative to the repository root. */
  schemaDirs?: string[];
  /** A chunk that reports nothing for this long is a hang: the child is killed. */
  watchdogMs?: number;
  progress?: (done: number, total: number) => void;
}

/** The project's schemas, plus the serde test schemas (maps, unions, recursion, zero-byte items) that exercise the decode guard further. */
export const DEFAULT_SCHEMA_DIRS = ['schemas', 'test/fixtures/serde/registry'];

interface ChildDone {
  type: 'done';
  memory: MemoryFigures;
}

interface ChildRun {
  reports: ChunkReport[];
  done: ChildDone | undefined;
  exit: ChildExit;
  hung: boolean;
}

/**
 * Runs the Avro cases in a child process under a V8 heap cap, chunk by chunk. When the child dies
 * (out of memory, a native abort) or hangs, that is one crash: the chunk is replayed with tracing to
 * find the input, and the run goes on with the next chunk in a fresh child.
 */
export async function runAvroFuzz(options: AvroFuzzOptions): Promise<TargetResult> {
  const { cases, seed, heapMiB = 256, chunkSize = 10_000, schemaDirs = DEFAULT_SCHEMA_DIRS, watchdogMs = 60_000 } = options;
  const base = { seed, cases, chunkSize, schemaDirs };
  const chunkCount = Math.ceil(cases / chunkSize);
  const tally = new Tally();
  const strategies = new Tally();
  const perTarget: Record<string, [number, number]> = {};
  const failures: string[] = [];
  let crashes = 0;
  let casesRun = 0;
  let peakHeap = 0;
  let peakRss = 0;
  let heapLimitMiB = 0;
  let rssStartMiB = NaN;
  let rssEndMiB = NaN;
  let slowest = { ms: 0, input: '' };
  const started = Date.now();

  let next = 0;
  while (next < chunkCount) {
    const run = await runChild({ ...base, chunks: range(next, chunkCount) }, heapMiB, watchdogMs, (report) => {
      casesRun += report.cases;
      tally.merge(report.outcomes.counts, report.outcomes.examples);
      strategies.merge(report.strategies);
      for (const [label, [decoded, rejected]] of Object.entries(report.perTarget)) {
        const counts = (perTarget[label] ??= [0, 0]);
        counts[0] += decoded;
        counts[1] += rejected;
      }
      for (const problem of report.problems) failures.push(problem);
      for (const [outcome, count] of Object.entries(report.outcomes.counts)) if (outcome.startsWith('crash')) crashes += count;
      peakHeap = Math.max(peakHeap, report.peakHeap);
      peakRss = Math.max(peakRss, report.peakRss);
      if (report.slowestCaseMs > slowest.ms) slowest = { ms: report.slowestCaseMs, input: report.slowestCase };
      options.progress?.(casesRun, cases);
    });
    if (run.done !== undefined) {
      heapLimitMiB = Math.max(heapLimitMiB, run.done.memory.heapLimitMiB ?? 0);
      if (Number.isNaN(rssStartMiB)) rssStartMiB = run.done.memory.rssStartMiB;
      rssEndMiB = run.done.memory.rssEndMiB;
      break;
    }
    const failedChunk = next + run.reports.length;
    crashes += 1;
    casesRun += 1;
    const outcome = run.hung ? 'crash: hang' : 'crash: process died';
    const input = await locate({ ...base, chunks: [failedChunk] }, heapMiB, watchdogMs);
    tally.add(outcome, () => input);
    failures.push(`${outcome} in chunk ${failedChunk} of seed ${seed} (${run.hung ? `no progress for ${watchdogMs} ms` : describeExit(run.exit)}); input: ${input}`);
    next = failedChunk + 1;
  }

  if (peakHeap >= heapMiB * MiB) failures.push(`heap peaked at ${toMiB(peakHeap)} MiB, not below ${heapMiB} MiB`);
  const { counts, examples } = tally.toJSON();
  return {
    target: 'avro',
    cases: casesRun,
    crashes,
    failures,
    outcomes: counts,
    examples,
    seconds: (Date.now() - started) / 1000,
    memory: { heapPeakMiB: toMiB(peakHeap), rssStartMiB, rssPeakMiB: toMiB(peakRss), rssEndMiB, heapLimitMiB },
    details: { seed, heapCapMiB: heapMiB, strategies: strategies.toJSON().counts, perTarget, slowestCaseMs: Math.round(slowest.ms * 1000) / 1000, slowestCase: slowest.input },
  };
}

function runChild(config: AvroChildConfig, heapMiB: number, watchdogMs: number, onReport: (report: ChunkReport) => void): Promise<ChildRun> {
  const { child, exited } = startTsChild('./avro-child.ts', [JSON.stringify(config)], [`--max-old-space-size=${heapMiB}`]);
  const run: Omit<ChildRun, 'exit'> = { reports: [], done: undefined, hung: false };
  let watchdog = setTimeout(hang, watchdogMs);
  function hang() {
    run.hung = true;
    child.kill('SIGKILL');
  }
  child.on('message', (message: ChunkReport | ChildDone) => {
    clearTimeout(watchdog);
    watchdog = setTimeout(hang, watchdogMs);
    if (message.type === 'chunk') {
      run.reports.push(message);
      onReport(message);
    } else run.done = message;
  });
  return exited.then((exit) => {
    clearTimeout(watchdog);
    return { ...run, exit };
  });
}

/** Replays one chunk with each input written to a file before it is decoded; the file then holds the one that killed the process. */
async function locate(config: AvroChildConfig, heapMiB: number, watchdogMs: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-fuzz-'));
  const traceFile = join(dir, 'current-input');
  try {
    const run = await runChild({ ...config, traceFile }, heapMiB, watchdogMs, () => {});
    if (run.done !== undefined) return 'not reproduced when the chunk was replayed alone';
    return existsSync(traceFile) ? readFileSync(traceFile, 'utf8') : 'none: the process died before it decoded an input';
  } catch (error) {
    return `could not be located: ${String(error)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
