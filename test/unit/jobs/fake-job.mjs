// A stand-in for a Tributary command in the job tests. Arguments, in any order:
//   --record FILE     append one JSON line: { pid, args, start, end, nice, heapMb }
//   --sleep MS        stay alive this long (between start and end)
//   --exit CODE       exit with this code (default 0)
//   --ignore-term     survive SIGTERM (so only SIGKILL ends it)
//   --say TEXT        print TEXT on stdout, and a pino-style JSON line on stderr
import { appendFileSync } from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';

const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const start = Date.now();
if (args.includes('--ignore-term')) process.on('SIGTERM', () => {});
const say = option('--say');
if (say !== undefined) {
  process.stdout.write(`${say}\n`);
  process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, hostname: 'h', name: 'child', msg: `warned ${say}`, detail: 7 })}\n`);
}
setTimeout(() => {
  const record = option('--record');
  if (record !== undefined) {
    const heapMb = Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20);
    appendFileSync(record, `${JSON.stringify({ pid: process.pid, args, start, end: Date.now(), nice: os.getPriority(), heapMb })}\n`);
  }
  process.exit(Number(option('--exit') ?? 0));
}, Number(option('--sleep') ?? 0));
