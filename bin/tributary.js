#!/usr/bin/env node
// The `tributary` command. Topologies are TypeScript modules, so tsx's loader is registered first
// and `tributary run topologies/mine.ts` can import them (as ES modules, see typescript-hooks.js).
// The CLI itself runs from src/ in a checkout of the repository, and from the compiled dist/ when
// installed from the package.
//
// V8's heap limits come from the memory budget (TRIBUTARY_MEMORY_MB, see memory-flags.js) and can
// only be set when Node starts: this process starts the engine's with them (its own stays small,
// it loads nothing else), forwards signals and exits with the engine's code.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { heapFlagsGiven, v8FlagsFor } from './memory-flags.js';

const SUPERVISED = 'TRIBUTARY_HEAP_FLAGS_APPLIED';
const heapFlags = v8FlagsFor(process.env.TRIBUTARY_MEMORY_MB);

if (!process.env[SUPERVISED] && heapFlags !== null && !heapFlagsGiven(process.execArgv, process.env.NODE_OPTIONS)) {
  const args = [...heapFlags, ...process.execArgv, ...process.argv.slice(1)];
  // Fewer glibc malloc arenas: a few MB less RSS for a mostly single-threaded process.
  const env = { ...process.env, [SUPERVISED]: String(process.pid), MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' };
  // Its own process group: a terminal's Ctrl-C reaches only this process, which forwards it once
  // (the engine treats a second SIGINT as "exit at once").
  const child = spawn(process.execPath, args, { stdio: 'inherit', env, detached: true });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
} else {
  const parent = Number(process.env[SUPERVISED]);
  if (parent > 0) {
    // Started by the process above: should it die without forwarding a signal (SIGKILL), stop too.
    setInterval(() => process.ppid !== parent && process.kill(process.pid, 'SIGTERM'), 1_000).unref();
  }
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  register('./typescript-hooks.js', import.meta.url);
  const source = new URL('../src/cli/main.ts', import.meta.url);
  await import(existsSync(source) ? source.href : new URL('../dist/cli/main.js', import.meta.url).href);
}
