import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: children run from it so `--import tsx` and relative paths resolve. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines it wrote to stderr (V8's out-of-memory report lands there). */
  stderrTail: string;
}

/** Starts `script` (TypeScript, through tsx) in a node child with an IPC channel. */
export function startTsChild(script: string, args: string[], nodeOptions: string[] = []): { child: ChildProcess; exited: Promise<ChildExit> } {
  const child = spawn(process.execPath, [...nodeOptions, '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<ChildExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderrTail: tail(stderr) })));
  return { child, exited };
}

export function describeExit(exit: ChildExit): string {
  const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
  return exit.stderrTail === '' ? how : `${how}; stderr: ${exit.stderrTail}`;
}

/** V8's fatal error line when there is one (its stack dump follows it), else the last lines. */
function tail(stderr: string): string {
  const lines = stderr.trim().split('\n');
  const fatal = lines.find((line) => line.includes('FATAL ERROR'));
  return fatal !== undefined ? fatal.trim() : lines.slice(-4).join('\n');
}
