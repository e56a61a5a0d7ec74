/**
 * Child process of the Avro fuzz target (started by avro-target.ts under a V8 heap cap): decodes
 * the cases of the chunks it is given and reports each chunk over IPC. A decode may return a value
 * or throw DecodeError; anything else is a crash. With `traceFile`, each input is written to that
 * file before it is decoded, so the input that kills the process can be read back afterwards.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { type AvroCase, type DecodeTarget, avroFuzzSetup, classify } from './avro-cases.ts';
import { MemoryPeak } from './memory.ts';
import { Tally } from './outcomes.ts';
import { chunkSeed } from './seeds.ts';

export interface AvroChildConfig {
  seed: number;
  cases: number;
  chunkSize: number;
  /** Chunk indexes to run, in order. */
  chunks: number[];
  schemaDirs: string[];
  traceFile?: string;
}

/** Memory is sampled every so many cases (a timer would not fire inside the synchronous loop). */
const SAMPLE_EVERY = 1_000;

export interface ChunkReport {
  type: 'chunk';
  chunk: number;
  cases: number;
  outcomes: ReturnType<Tally['toJSON']>;
  strategies: Record<string, number>;
  /** Per decode target: [decoded, rejected]. */
  perTarget: Record<string, [number, number]>;
  /** Inputs that neither decoded to a valid value nor threw DecodeError, with what happened. */
  problems: string[];
  slowestCaseMs: number;
  slowestCase: string;
  peakHeap: number;
  peakRss: number;
}

function runChunk(config: AvroChildConfig, targets: DecodeTarget[], arbitrary: fc.Arbitrary<AvroCase>, chunk: number): ChunkReport {
  const count = Math.min(config.chunkSize, config.cases - chunk * config.chunkSize);
  const cases = fc.sample(arbitrary, { seed: chunkSeed(config.seed, chunk), numRuns: count });
  const tally = new Tally();
  const strategies: Record<string, number> = {};
  const perTarget: Record<string, [number, number]> = {};
  const problems: string[] = [];
  const memory = new MemoryPeak();
  let slowestCaseMs = 0;
  let slowestCase = '';
  for (let i = 0; i < cases.length; i++) {
    const { target: index, bytes, strategy } = cases[i]!;
    const target = targets[index]!;
    const describe = () => `${target.label}, ${strategy}, chunk ${chunk} case ${i}: ${bytes.toString('hex')}`;
    if (config.traceFile !== undefined) writeFileSync(config.traceFile, describe());
    const started = performance.now();
    const { outcome, problem } = classify(target, bytes);
    const took = performance.now() - started;
    if (took > slowestCaseMs) {
      slowestCaseMs = took;
      slowestCase = describe();
    }
    tally.add(outcome, describe);
    if (problem !== undefined) problems.push(`${problem} (${describe()})`);
    strategies[strategy] = (strategies[strategy] ?? 0) + 1;
    const counts = (perTarget[target.label] ??= [0, 0]);
    counts[outcome === 'decoded' ? 0 : 1] += 1;
    if (i % SAMPLE_EVERY === 0) memory.sample();
  }
  memory.sample();
  return { type: 'chunk', chunk, cases: cases.length, outcomes: tally.toJSON(), strategies, perTarget, problems: problems.slice(0, 20), slowestCaseMs, slowestCase, peakHeap: memory.peakHeap, peakRss: memory.peakRss };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as AvroChildConfig;
  const { targets, cases } = avroFuzzSetup(config.schemaDirs);
  const memory = new MemoryPeak(); // RSS at the start: modules loaded, nothing decoded yet
  const send = (message: unknown) => new Promise<void>((resolve) => process.send!(message, () => resolve()));
  for (const chunk of config.chunks) await send(runChunk(config, targets, cases, chunk));
  await send({ type: 'done', memory: memory.figures() });
  process.disconnect();
}

await main();
