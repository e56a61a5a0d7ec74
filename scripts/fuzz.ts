/**
 * Fuzzes what the engine takes from outside, through its real code paths:
 *   - avro: random and mutated Avro payloads (Confluent-framed and bare) for every schema, through
 *     the decoders createDecoder makes for the Kafka source, in a child process under a V8 heap cap;
 *   - frames: hostile WebSocket frames from real `ws` clients to the real uWS push server;
 *   - tokens: mutated WebSocket tokens (JWT) at the upgrade and mutated SQL bearer headers.
 *
 *   npm run fuzz -- [--avro 1000000] [--frames 100000] [--tokens 10000] [--seed N] [--heap-mb 256] [--only avro,frames,tokens]
 *
 * Prints per target the cases run, crashes, outcome counts, rate and memory, writes
 * bench-results/fuzz-<timestamp>.json, and exits 1 when any target failed. A failing run prints its
 * seed; the same seed and counts replay the same inputs.
 */
import { randomInt } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { runAvroFuzz } from './fuzz/avro-target.ts';
import { runFramesFuzz } from './fuzz/frames-target.ts';
import { type TargetResult, passed } from './fuzz/outcomes.ts';
import { printSummary, writeSummary } from './fuzz/report.ts';
import { runTokensFuzz } from './fuzz/tokens-target.ts';

const TARGETS = ['avro', 'frames', 'tokens'] as const;
type Target = (typeof TARGETS)[number];

function wholeNumber(text: string): number {
  const value = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError('expected a whole number');
  return value;
}

const program = new Command()
  .name('fuzz')
  .description('random and mutated Avro payloads, hostile WebSocket frames and mutated tokens through the real code paths')
  .option('--avro <n>', 'Avro payloads', wholeNumber, 1_000_000)
  .option('--frames <n>', 'WebSocket frames', wholeNumber, 100_000)
  .option('--tokens <n>', 'mutated WebSocket tokens (and as many SQL bearer headers)', wholeNumber, 10_000)
  .option('--seed <n>', 'seed of every generator (default: random, printed)', wholeNumber)
  .option('--heap-mb <n>', 'V8 heap cap of the Avro decoding process, MiB', wholeNumber, 256)
  .option('--only <targets>', `comma-separated subset of ${TARGETS.join(',')}`)
  .showHelpAfterError();

async function main(): Promise<void> {
  const opts = program.parse(process.argv).opts<{ avro: number; frames: number; tokens: number; seed?: number; heapMb: number; only?: string }>();
  const targets = new Set<Target>((opts.only?.split(',').map((t) => t.trim()) ?? TARGETS) as Target[]);
  for (const target of targets) if (!TARGETS.includes(target)) throw new InvalidArgumentError(`unknown target "${target}" (use ${TARGETS.join(',')})`);
  const seed = opts.seed ?? randomInt(2 ** 31);
  const options = { avro: opts.avro, frames: opts.frames, tokens: opts.tokens, seed, heapMiB: opts.heapMb, targets: [...targets] };
  log(`node ${process.version}; ${JSON.stringify(options)}`);

  const results: TargetResult[] = [];
  if (targets.has('avro') && opts.avro > 0) results.push(await runAvroFuzz({ cases: opts.avro, seed, heapMiB: opts.heapMb, progress: progress('avro') }));
  if (targets.has('frames') && opts.frames > 0) results.push(await runFramesFuzz({ frames: opts.frames, seed, progress: progress('frames') }));
  if (targets.has('tokens') && opts.tokens > 0) results.push(await runTokensFuzz({ tokens: opts.tokens, seed, progress: progress('tokens') }));

  printSummary(results);
  const file = await writeSummary(results, options);
  const failed = results.filter((r) => !passed(r)).map((r) => r.target);
  log(`summary: ${file}`);
  if (failed.length > 0) {
    log(`FAILED: ${failed.join(', ')} (seed ${seed}; rerun with --seed ${seed} and the same counts to replay)`);
    process.exitCode = 1;
  }
}

function log(text: string): void {
  console.log(`[fuzz] ${text}`);
}

/** A progress line every tenth of a target. */
function progress(target: string): (done: number, total: number) => void {
  let shown = 0;
  return (done, total) => {
    const tenth = Math.floor((done * 10) / total);
    if (tenth > shown) {
      shown = tenth;
      log(`${target}: ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`);
    }
  };
}

await main();
